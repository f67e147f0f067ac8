// Package cloudwatch publishes Shardwise's metrics to Amazon CloudWatch the
// way the Java KCL does: observations are aggregated per flush interval
// into one statistic set per metric name, unit and dimension set, and sent
// in batched PutMetricData calls by one background goroutine, retried with
// backoff on throttling and transient failures, and flushed on Close.
//
// It lives apart from package metrics so that a program that does not
// publish to CloudWatch does not compile the CloudWatch client. The metric
// names, dimensions and levels are listed in package metrics.
//
// # Usage
//
// Build a publisher, pass it to the scheduler as its metrics sink, and
// close it after Run returns, so the last interval's metrics are sent (the
// scheduler does not close a sink it was given). The package's name is the
// same as the AWS SDK's CloudWatch package, so import one of them under
// another name:
//
//	import (
//		awscloudwatch "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
//		"github.com/shardwise/shardwise/metrics/cloudwatch"
//	)
//
//	pub, err := cloudwatch.New(cloudwatch.Config{
//		Client:    awscloudwatch.NewFromConfig(awsCfg),
//		Namespace: "orders-consumer", // the application name, as in KCL
//		Level:     metrics.LevelSummary,
//		Logger:    logger,
//	})
//	if err != nil {
//		return err
//	}
//	s, err := scheduler.New(scheduler.Config{ /* ... */ Metrics: pub}, factory)
//	if err != nil {
//		pub.Close(ctx)
//		return err
//	}
//	runErr := s.Run(ctx)
//	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	if err := pub.Close(closeCtx); err != nil {
//		logger.Warn().Err(err).Msg("metrics not all delivered")
//	}
//	return runErr
//
// # What it must not do
//
//   - Block or slow a record processor. Record takes a short lock on one of
//     several aggregation shards and never waits for the network; when the
//     bounded queue is full it drops and counts (Dropped).
//   - Multiply retries: the SDK's own retries are turned off for each call,
//     and the publisher retries whole batches with its own backoff.
//   - Log per observation: drops, retries and failures are summarised in
//     at most one warning per flush interval.
package cloudwatch

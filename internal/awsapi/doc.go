// Package awsapi holds the small interfaces over the AWS clients that
// Shardwise uses (so tests can substitute fakes and inject faults) and the
// classification of AWS errors by their error code.
package awsapi

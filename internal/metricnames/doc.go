// Package metricnames holds the metric, operation and dimension names the
// Java KCL publishes, which the scheduler and the balancer record under, so
// that dashboards and alarms built for a KCL application keep working.
//
// Users read these names from the table in package metrics' documentation;
// keep that table in step with this file (a test in package metrics checks
// that every name here appears in it).
package metricnames

// Package kclschema names the attributes of Shardwise's three DynamoDB
// tables: the lease table (exactly as the Java KCL v3 writes it, so a table
// written by the Java KCL can be taken over), the worker-metrics table and
// the coordinator-state table. The user-facing description of the same
// names is the table in package leases' documentation; keep both in step.
package kclschema

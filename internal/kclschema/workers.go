package kclschema

// Attribute names of the worker-metrics table (<app>-WorkerMetricStats).
// wid, lut, sts and opr are the Java KCL v3's; sid, hb, ltp and drn are
// Shardwise's session and liveness attributes.
const (
	AttrWorkerID        = "wid" // S, hash key
	AttrLastUpdate      = "lut" // N, epoch seconds; informational, never compared across hosts
	AttrStats           = "sts" // M: metric short name -> L of N (last values, -1 = capture failed)
	AttrOperatingRange  = "opr" // M: metric short name -> L of N ([max utilization])
	AttrSessionID       = "sid" // S: random per worker incarnation
	AttrHeartbeat       = "hb"  // N: incremented by every heartbeat of the session
	AttrLeaseThroughput = "ltp" // M: lease key -> N (KB/s delivered recently)
	AttrLeaseLag        = "llg" // M: lease key -> N (lag in milliseconds at the last heartbeat)
	AttrDraining        = "drn" // BOOL: shutting down, assign nothing to it
)

// Metric short names used in sts and opr, as the Java KCL names them.
const (
	MetricCPU        = "C"
	MetricThroughput = "T"
)

// LatestCPU is the newest CPU sample in a worker record's Stats, in
// percent, or -1 when there is none or the capture failed.
func LatestCPU(stats map[string][]float64) float64 {
	s := stats[MetricCPU]
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1]
}

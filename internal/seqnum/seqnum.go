// Package seqnum compares and checks Kinesis sequence numbers: decimal
// strings of up to 128 bits, compared as numbers without being parsed.
package seqnum

import "strings"

// Valid reports whether s is a Kinesis sequence number: a
// non-empty string of decimal digits.
func Valid(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Compare compares two decimal sequence numbers numerically.
func Compare(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// IsSentinel reports whether s is one of the sentinel positions the lease
// table stores in place of a sequence number (TRIM_HORIZON, LATEST,
// AT_TIMESTAMP, SHARD_END).
func IsSentinel(s string) bool {
	switch s {
	case "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END":
		return true
	}
	return false
}

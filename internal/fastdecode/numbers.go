package fastdecode

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// parseInt parses a JSON number token as the SDK's ReadInt64 (and the fast
// path of its readFloat) does: an optional '-' and decimal digits, no
// fraction or exponent, within int64.
//
// One quirk is kept on purpose: the SDK stops reading as soon as the digits
// so far make 2^63 after a '-', and answers math.MinInt64 whatever follows,
// so "-9223372036854775808.5" and "-92233720368547758080" are MinInt64 to
// the SDK, and therefore here.
func parseInt(tok []byte) (int64, bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if len(tok) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range tok {
		if !isDigit(c) {
			return 0, false
		}
		if n > math.MaxInt64/10 {
			return 0, false // n*10 is above MaxInt64 (and may wrap uint64)
		}
		n = n*10 + uint64(c-'0')
		if n > math.MaxInt64 {
			if neg && n == math.MaxInt64+1 {
				return math.MinInt64, true
			}
			return 0, false
		}
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

var errNaNTimestamp = errors.New("shardwise: timestamp is NaN")

// parseFloat turns a number token into a float64 as the SDK's readFloat
// does: an integer that fits int64 is converted exactly, anything else
// goes through strconv.ParseFloat (whose range errors are errors).
func parseFloat(tok []byte) (float64, error) {
	if n, ok := parseInt(tok); ok {
		return float64(n), nil
	}
	if f, ok := parseShortDecimal(tok); ok {
		return f, nil
	}
	// The token is only read here, so it need not be copied; the error
	// must not keep it, since the body's buffer is reused.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	if err != nil {
		return 0, errors.New("shardwise: timestamp out of range")
	}
	return f, nil
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseShortDecimal is strconv.ParseFloat for the shape Kinesis sends
// timestamps in ("1700000000.123"): no exponent and at most 15 digits. The
// digits then make an integer m below 2^53 and the fraction a power of ten
// 10^k with k <= 22, both exact in a float64, so m / 10^k is one IEEE
// division of exact operands: the correctly rounded value, which is what
// ParseFloat returns. Profiles showed ParseFloat at a fifth of the scan of
// small records.
func parseShortDecimal(tok []byte) (float64, bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for i, c := range tok {
		switch {
		case isDigit(c):
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0:
			frac = len(tok) - i - 1
		default:
			return 0, false
		}
	}
	if digits > 15 || frac < 0 {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// parseFloatString turns an (unquoted) string timestamp into a float64 as
// the SDK's readFloat does: only NaN, Infinity and -Infinity, in any case.
func parseFloatString(s []byte) (float64, error) {
	str := unsafe.String(unsafe.SliceData(s), len(s))
	switch {
	case strings.EqualFold(str, "NaN"):
		return math.NaN(), nil
	case strings.EqualFold(str, "Infinity"):
		return math.Inf(1), nil
	case strings.EqualFold(str, "-Infinity"):
		return math.Inf(-1), nil
	}
	return 0, errors.New("shardwise: unexpected string value for a timestamp")
}

// epochMillis converts epoch seconds to whole milliseconds exactly as the
// SDK's smithytime.ParseEpochSeconds does with math/big, without its
// allocations: there, big.NewFloat(v) (53-bit mantissa, round to nearest
// even) is multiplied by 1000 into a 53-bit result — the same rounding as
// the float64 product wherever that product is a normal float64 — and
// truncated toward zero, saturating at the int64 bounds. Where the float64
// product would overflow to ±Inf, big.Float stays finite but saturates all
// the same; where it is subnormal, both truncate to 0. NaN makes
// big.NewFloat panic in the SDK; here it is an error.
func epochMillis(v float64) (int64, error) {
	m := v * 1000
	switch {
	case m != m:
		return 0, errNaNTimestamp
	case m >= 1<<63:
		return math.MaxInt64, nil
	case m < -(1 << 63):
		return math.MinInt64, nil
	}
	return int64(m), nil
}

// epochTime is the SDK's time.Unix(0, ms*1e6).UTC(), overflow included.
func epochTime(ms int64) time.Time {
	return time.Unix(0, ms*1e6).UTC()
}

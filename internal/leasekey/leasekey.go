// Package leasekey reads and writes lease keys in the two forms the Java
// KCL uses. A single-stream application keys each lease by the bare shard
// id ("shardId-000000000007"). A multi-stream application keys it by the
// stream identifier and the shard id,
// "<accountId>:<streamName>:<creationEpochSeconds>:<shardId>", and keeps
// parent and child shard ids bare; a related shard's lease key is found by
// putting the stream identifier of the lease in front of it (Related).
//
// The package only parses and formats; it never decides what happens to a
// lease it cannot read (the scheduler leaves such leases untouched).
package leasekey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stream identifies a stream the way the Java KCL serializes a
// StreamIdentifier in multi-stream mode: the account that owns it, its
// name, and its creation time in epoch seconds (a stream deleted and
// created again under the same name is another stream).
type Stream struct {
	Account       string
	Name          string
	CreationEpoch int64
}

// String is the serialized identifier, "<account>:<name>:<epoch>": the
// prefix of the stream's lease keys and the value of the streamName
// attribute the Java KCL writes on each of its leases.
func (s Stream) String() string {
	return s.Account + ":" + s.Name + ":" + strconv.FormatInt(s.CreationEpoch, 10)
}

// Valid reports whether every part of s is well formed.
func (s Stream) Valid() bool {
	return validAccount(s.Account) && ValidName(s.Name) && s.CreationEpoch >= 0
}

// Key is a parsed lease key.
type Key struct {
	// Multi is true for a multi-stream key; Stream is then set.
	Multi   bool
	Stream  Stream
	ShardID string
}

// String formats k back into a lease key.
func (k Key) String() string {
	if !k.Multi {
		return k.ShardID
	}
	return Format(k.Stream, k.ShardID)
}

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("shardwise: malformed lease key")

// Format returns the multi-stream lease key of a shard of st.
func Format(st Stream, shardID string) string { return st.String() + ":" + shardID }

// Parse reads a lease key of either form. A key without ':' is a
// single-stream key (a bare shard id); a key of four ':'-separated parts
// whose parts are well formed is a multi-stream key; anything else is an
// error wrapping ErrMalformed.
func Parse(key string) (Key, error) {
	if !strings.Contains(key, ":") {
		if !ValidShardID(key) {
			return Key{}, fmt.Errorf("%w: %q is not a shard id", ErrMalformed, key)
		}
		return Key{ShardID: key}, nil
	}
	parts := strings.Split(key, ":")
	if len(parts) != 4 {
		return Key{}, fmt.Errorf("%w: %q has %d ':'-separated parts, want 4 (account:stream:creationEpoch:shardId)", ErrMalformed, key, len(parts))
	}
	st, why := parseStreamParts(parts[0], parts[1], parts[2])
	if why != "" {
		return Key{}, fmt.Errorf("%w: %q: %s", ErrMalformed, key, why)
	}
	if !ValidShardID(parts[3]) {
		return Key{}, fmt.Errorf("%w: %q: %q is not a shard id", ErrMalformed, key, parts[3])
	}
	return Key{Multi: true, Stream: st, ShardID: parts[3]}, nil
}

// ParseStream reads a serialized stream identifier
// ("<account>:<name>:<epoch>").
func ParseStream(s string) (Stream, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Stream{}, fmt.Errorf("%w: stream identifier %q has %d ':'-separated parts, want 3", ErrMalformed, s, len(parts))
	}
	st, why := parseStreamParts(parts[0], parts[1], parts[2])
	if why != "" {
		return Stream{}, fmt.Errorf("%w: stream identifier %q: %s", ErrMalformed, s, why)
	}
	return st, nil
}

// parseStreamParts returns the stream, or why the parts are not one.
func parseStreamParts(account, name, epoch string) (Stream, string) {
	if !validAccount(account) {
		return Stream{}, fmt.Sprintf("account %q is not 12 digits", account)
	}
	if !ValidName(name) {
		return Stream{}, fmt.Sprintf("%q is not a stream name", name)
	}
	e, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || e < 0 || epoch != strconv.FormatInt(e, 10) {
		return Stream{}, fmt.Sprintf("creation epoch %q is not a number of seconds", epoch)
	}
	return Stream{Account: account, Name: name, CreationEpoch: e}, ""
}

// Related returns the lease key of shard shardID in the same stream as
// the lease keyed key: the bare shard id for a single-stream key (or a key
// that does not parse), the stream's prefix and the shard id for a
// multi-stream key. Parent and child shard ids are stored bare, so this is
// how a parent's or child's lease is found.
func Related(key, shardID string) string {
	k, err := Parse(key)
	if err != nil || !k.Multi {
		return shardID
	}
	return Format(k.Stream, shardID)
}

// ValidName reports whether s is a valid Kinesis stream name (1-128 of
// a-z A-Z 0-9 _ - .).
func ValidName(s string) bool { return len(s) >= 1 && len(s) <= 128 && idChars(s) }

// ValidShardID reports whether s can be a Kinesis shard id (1-128 of
// a-z A-Z 0-9 _ - .).
func ValidShardID(s string) bool { return len(s) >= 1 && len(s) <= 128 && idChars(s) }

func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

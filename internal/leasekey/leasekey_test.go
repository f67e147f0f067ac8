package leasekey

import (
	"errors"
	"testing"
)

func TestParseForms(t *testing.T) {
	for _, tc := range []struct {
		key   string
		multi bool
		st    Stream
		shard string
	}{
		{"shardId-000000000007", false, Stream{}, "shardId-000000000007"},
		{"123456789012:orders:1700000000:shardId-000000000001", true, Stream{"123456789012", "orders", 1700000000}, "shardId-000000000001"},
		{"000000000000:a.b_c-d:0:shardId-1", true, Stream{"000000000000", "a.b_c-d", 0}, "shardId-1"},
	} {
		k, err := Parse(tc.key)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.key, err)
		}
		if k.Multi != tc.multi || k.Stream != tc.st || k.ShardID != tc.shard {
			t.Errorf("Parse(%q) = %+v", tc.key, k)
		}
		if got := k.String(); got != tc.key {
			t.Errorf("round trip of %q = %q", tc.key, got)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, key := range []string{
		"",
		"a:b",
		"123456789012:orders:1700000000",    // no shard
		"123456789012:orders:1700000000:",   // empty shard
		"12345:orders:1700000000:shardId-1", // short account
		"12345678901x:orders:1700000000:shardId-1", // non-digit account
		"123456789012::1700000000:shardId-1",       // empty name
		"123456789012:or/ders:1700000000:shardId-1",
		"123456789012:orders:-1:shardId-1",
		"123456789012:orders:017:shardId-1", // not canonical
		"123456789012:orders:x:shardId-1",
		"123456789012:orders:1:shard:1",
		"shard id with spaces",
		"arn:aws:kinesis:us-east-1:123456789012:stream/orders",
	} {
		if k, err := Parse(key); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrMalformed", key, k, err)
		}
	}
}

func TestRelated(t *testing.T) {
	if got := Related("shardId-1", "shardId-2"); got != "shardId-2" {
		t.Errorf("single: %q", got)
	}
	if got := Related("123456789012:s:5:shardId-1", "shardId-2"); got != "123456789012:s:5:shardId-2" {
		t.Errorf("multi: %q", got)
	}
	if got := Related("bad:key", "shardId-2"); got != "shardId-2" {
		t.Errorf("malformed: %q", got)
	}
}

func TestParseStream(t *testing.T) {
	st, err := ParseStream("123456789012:orders:42")
	if err != nil || st != (Stream{"123456789012", "orders", 42}) || !st.Valid() {
		t.Fatalf("ParseStream = %+v, %v", st, err)
	}
	for _, s := range []string{"orders", "1:orders:42", "123456789012:orders", "123456789012:orders:42:x"} {
		if _, err := ParseStream(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseStream(%q) = %v", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("shardId-000000000007")
	f.Add("123456789012:orders:1700000000:shardId-000000000001")
	f.Add("a:b:c:d")
	f.Fuzz(func(t *testing.T, key string) {
		k, err := Parse(key)
		if err != nil {
			return
		}
		if k.String() != key {
			t.Fatalf("Parse(%q).String() = %q", key, k.String())
		}
		if k2, err := Parse(k.String()); err != nil || k2 != k {
			t.Fatalf("reparse of %q = %+v, %v", key, k2, err)
		}
	})
}

package hashkey

import "testing"

var sinkKey Key

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"small", "12345"},
		{"max", maxDec},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := Parse(bc.in)
				if err != nil {
					b.Fatal(err)
				}
				sinkKey = k
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Max.String()
	}
}

func BenchmarkFromPartitionKey(b *testing.B) {
	for _, bc := range []struct{ name, pk string }{
		{"8B", "user-042"},
		{"64B", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkKey = FromPartitionKey(bc.pk)
			}
		})
	}
}

func BenchmarkContains(b *testing.B) {
	r := Split(Full, 4)[2]
	keys := make([]Key, 256)
	for i := range keys {
		keys[i] = Key{Hi: uint64(i) << 56, Lo: uint64(i)}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, k := range keys {
			if r.Contains(k) {
				n++
			}
		}
	}
	_ = n
}

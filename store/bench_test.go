package store

import (
	"context"
	"testing"
)

// BenchmarkAppend measures durable appends (each Append is one synced
// transaction): one entry per Append, and batches of 100.
func BenchmarkAppend(b *testing.B) {
	for _, bench := range []struct {
		name  string
		batch int
	}{{"single", 1}, {"batch100", 100}} {
		b.Run(bench.name, func(b *testing.B) {
			ctx := context.Background()
			db := openNew(b, Options{MaxJournal: 10000})
			entries := make([]Entry, bench.batch)
			for i := range entries {
				entries[i] = entry(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := db.Append(ctx, entries...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*bench.batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

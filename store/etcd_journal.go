package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// journalKey is the key of seq: zero-padded to 20 digits, so keys sort by sequence.
func journalKey(seq uint64) string { return etcdJournal + fmt.Sprintf("%020d", seq) }

// Append adds entries to the journal and returns their sequence numbers, in order (see
// DB.Append). The journal counter is compared in the same transaction, so that sequence
// numbers stay dense and ordered with several writers. More than etcdTxnChunk entries are
// written in several transactions, each all or nothing.
func (s *Etcd) Append(ctx context.Context, entries ...Entry) ([]uint64, error) {
	for i, e := range entries {
		if err := e.validate(i); err != nil {
			return nil, err
		}
	}
	var seqs []uint64
	for len(entries) > 0 {
		n := min(len(entries), etcdTxnChunk)
		got, err := s.appendChunk(ctx, entries[:n])
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, got...)
		entries = entries[n:]
	}
	return seqs, nil
}

func (s *Etcd) appendChunk(ctx context.Context, entries []Entry) ([]uint64, error) {
	const what = "append to the journal"
	var seqs []uint64
	err := retry(ctx, what, func() error {
		resp, err := s.get(ctx, what, etcdJournalSeq)
		if err != nil {
			return err
		}
		last, rev, err := counterOf(resp)
		if err != nil {
			return err
		}
		seqs = seqs[:0]
		ops := make([]clientv3.Op, 0, len(entries)+2)
		for i, e := range entries {
			e = e.bounded()
			e.Seq = last + uint64(i) + 1
			v, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("store: %s: entry %d: %w", what, i, err)
			}
			ops = append(ops, clientv3.OpPut(s.prefix+journalKey(e.Seq), string(v)))
			seqs = append(seqs, e.Seq)
		}
		newLast := last + uint64(len(entries))
		ops = append(ops, clientv3.OpPut(s.prefix+etcdJournalSeq, strconv.FormatUint(newLast, 10)))
		if newLast > uint64(s.maxJournal) {
			// Prune: everything up to newLast-maxJournal goes, in the same transaction.
			ops = append(ops, clientv3.OpDelete(s.prefix+journalKey(0),
				clientv3.WithRange(s.prefix+journalKey(newLast-uint64(s.maxJournal)+1))))
		}
		return s.commit(ctx, what, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.prefix+etcdJournalSeq), "=", rev)}, ops...)
	})
	if err != nil {
		return nil, err
	}
	return seqs, nil
}

// Journal returns the entries with Seq > after, oldest first, at most limit of them (see
// DB.Journal).
func (s *Etcd) Journal(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = DefaultJournalLimit
	}
	out := []Entry{}
	if after == math.MaxUint64 {
		return out, nil
	}
	resp, err := s.get(ctx, "read the journal", journalKey(after+1),
		clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.prefix+etcdJournal)), clientv3.WithLimit(int64(limit)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, err
	}
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.prefix+etcdJournal)
		seq, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: journal key %q: %w: not a sequence number", kv.Key, ErrCorrupt)
		}
		var e Entry
		if err := decodeJSON("journal entry", kv.Key, kv.Value, &e); err != nil {
			return nil, err
		}
		e.Seq = seq
		out = append(out, e)
	}
	return out, nil
}

// LastSeq returns the sequence number of the newest entry ever appended (0 for a new store).
func (s *Etcd) LastSeq(ctx context.Context) (uint64, error) {
	resp, err := s.get(ctx, "read the journal", etcdJournalSeq)
	if err != nil {
		return 0, err
	}
	last, _, err := counterOf(resp)
	return last, err
}

// Wait blocks until the journal holds an entry with Seq > after, ctx ends or the store is
// closed (see DB.Wait). It watches the journal counter, so it sees every daemon's appends.
func (s *Etcd) Wait(ctx context.Context, after uint64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-wctx.Done():
		}
	}()
	for {
		resp, err := s.get(wctx, "wait", etcdJournalSeq)
		if err != nil {
			return s.waitErr(ctx, err)
		}
		last, _, err := counterOf(resp)
		if err != nil {
			return err
		}
		if last > after {
			return nil
		}
		wch := s.cli.Watch(clientv3.WithRequireLeader(wctx), s.prefix+etcdJournalSeq, clientv3.WithRev(resp.Header.Revision+1))
		for wr := range wch {
			if wr.Err() != nil || len(wr.Events) > 0 {
				break
			}
		}
		if wctx.Err() != nil {
			return s.waitErr(ctx, wctx.Err())
		}
	}
}

func (s *Etcd) waitErr(ctx context.Context, err error) error {
	switch {
	case s.closed():
		return fmt.Errorf("store: wait: %w", ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("store: wait: %w", ctx.Err())
	}
	return err
}

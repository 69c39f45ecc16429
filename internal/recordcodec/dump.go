package recordcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/orgtree/orgtree"
)

// A dump stream is a whole Dump as one full record, made to be read from
// the network a piece at a time: a version byte, then each part of the
// record as uvarint length and bytes. The parts are cut at the codec's own
// boundaries, not at the pieces', so DumpDecoder decodes each part as soon
// as its bytes are in.

// dumpVersion is the first byte of a dump stream.
const dumpVersion = 1

// EncodeDump returns d as a dump stream. d.Seq is not in it.
func EncodeDump(d *orgtree.Dump) []byte {
	parts := EncodeRecord(KindFull, d.Orgs, d.Nodes, d.Users, [3][]string{})
	size := 1
	for _, p := range parts {
		size += binary.MaxVarintLen64 + len(p)
	}
	out := make([]byte, 1, size)
	out[0] = dumpVersion
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

// DumpDecoder decodes a dump stream fed in pieces of any size. Its errors
// wrap ErrRecord.
type DumpDecoder struct {
	total int // bytes the stream has
	seen  int
	pend  []byte // the bytes of a part not complete yet
	p     *parser
}

// NewDumpDecoder returns a decoder of a stream of total bytes (known
// beforehand: it bounds what damaged lengths and counts can make the
// decoder allocate).
func NewDumpDecoder(total int) *DumpDecoder { return &DumpDecoder{total: total} }

// Write takes the next piece of the stream and decodes, on all cores, the
// chunks of the parts it completes. b is not kept.
func (d *DumpDecoder) Write(b []byte) error {
	first := d.seen == 0 && len(b) > 0 // b begins with the version byte
	d.seen += len(b)
	if d.seen > d.total {
		return fmt.Errorf("%w: more than the %d bytes announced", ErrRecord, d.total)
	}
	if first {
		if b[0] != dumpVersion {
			return fmt.Errorf("%w: dump stream version %d", ErrRecord, b[0])
		}
		b = b[1:]
	}
	// Every byte is copied once into pend: the parts point into it, and a
	// part may span pieces. Whole parts are cut off its front; the array
	// behind them is never written again.
	d.pend = append(d.pend, b...)
	var chunks []*Chunk
	for {
		n, k := binary.Uvarint(d.pend)
		if k == 0 {
			break // the length is not complete yet
		}
		// The part must end within the stream: that bounds what a
		// damaged length can make the decoder allocate.
		if pos := d.seen - len(d.pend); k < 0 || n > uint64(d.total-pos-k) {
			return fmt.Errorf("%w: part length", ErrRecord)
		}
		if uint64(len(d.pend)-k) < n {
			if cap(d.pend) < k+int(n) {
				// Room for the whole part, so that the rest of it is not
				// copied again with each piece.
				d.pend = append(make([]byte, 0, k+int(n)), d.pend...)
			}
			break
		}
		part := d.pend[k : k+int(n) : k+int(n)]
		d.pend = d.pend[k+int(n):]
		var cs []*Chunk
		var err error
		if d.p == nil {
			d.p, cs, err = newParser(0, part, d.total)
		} else {
			cs, err = d.p.add(part)
		}
		if err != nil {
			return err
		}
		chunks = append(chunks, cs...)
	}
	if len(d.pend) == 0 {
		d.pend = nil // a new array for the next part
	}
	return Parallel(len(chunks), func(i int) error { return chunks[i].Decode() })
}

// Finish checks that the stream was complete and returns its Dump.
func (d *DumpDecoder) Finish() (*orgtree.Dump, error) {
	if d.seen != d.total || d.p == nil || len(d.pend) > 0 {
		return nil, fmt.Errorf("%w: dump stream truncated", ErrRecord)
	}
	rec, err := d.p.finish()
	if err != nil {
		return nil, err
	}
	if rec.Kind != KindFull || len(rec.Deleted[0])+len(rec.Deleted[1])+len(rec.Deleted[2]) > 0 {
		return nil, fmt.Errorf("%w: dump stream of a delta record", ErrRecord)
	}
	if err := Parallel(len(rec.Chunks), func(i int) error { return rec.Chunks[i].Resolve() }); err != nil {
		return nil, err
	}
	return &orgtree.Dump{Orgs: rec.Orgs, Nodes: rec.Nodes, Users: rec.Users}, nil
}

// Parallel runs fn(0..n-1) on all cores and returns the first error; the
// others stop taking work once one fails.
func Parallel(n int, fn func(i int) error) error {
	if n <= 1 {
		if n == 1 {
			return fn(0)
		}
		return nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, min(runtime.GOMAXPROCS(0), n))
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					errs[w] = err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
)

// progressThreshold is the file size from which import shows its progress.
const progressThreshold = 1 << 20

func newImportCommand(o *options) *cobra.Command {
	var parent string
	var keepIDs, quiet bool
	var who *attribution
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import orgs from a nested JSON file (one org object or an array of them)",
		Long: `import reads the nested JSON format of the organization module's
ImportNodeByJSON ({"name", "code", "children": [...]}, one org or an array) and
adds each top-level node as a new org, or under --parent (any department
reference). The whole file is one transaction: on any error nothing is
imported. Use - for standard input. It prints each new org's id and its root
node's id. On files of 1 MB or more it shows its progress on standard error:
each phase with its time — reading (bytes and rate), parsing, validating and
applying (with the node count and nodes per second), writing to the store.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			in, size, err := o.openInput(cmd, a[0])
			if err != nil {
				return err
			}
			defer in.Close()
			show := size >= progressThreshold && !quiet && o.files == nil
			data, err := readAllProgress(in, size, show, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return o.withStore(false, func(t *orgtree.Tree) error {
				nodesBefore := t.Snapshot().Stats().Nodes
				start := time.Now()
				errw := cmd.ErrOrStderr()
				stop := ticker(show, errw, fmt.Sprintf("parsing %d MB", len(data)>>20))
				roots, _, err := orgtree.ParseTreeJSON(bytes.NewReader(data), t.Snapshot().Limits())
				stop("")
				if err != nil {
					return err
				}
				n := countNodes(roots)
				var applied, applyStart atomic.Int64 // nodes applied; when applying began (UnixNano)
				stop = tickerWith(show, errw, fmt.Sprintf("validating and applying %d nodes", n), func(time.Duration) string {
					began := applyStart.Load()
					if began == 0 {
						return applyStatus(0, n, 0)
					}
					return applyStatus(int(applied.Load()), n, time.Since(time.Unix(0, began)))
				})
				var orgs []orgtree.Org
				var stopWrite func(string)
				err = who.update(cmd, a, t, func(tx *orgtree.Tx) error {
					opts := orgtree.ImportOptions{KeepIDs: keepIDs, Progress: func(done, _ int) {
						applyStart.CompareAndSwap(0, time.Now().UnixNano())
						applied.Store(int64(done))
					}}
					if parent != "" {
						p, err := resolveNode(tx.Snapshot, parent)
						if err != nil {
							return err
						}
						opts.ParentID = p.ID
					}
					var err error
					phase := time.Now()
					orgs, err = tx.Import(roots, opts)
					stop(rate(n, time.Since(phase)))
					if err == nil {
						// The commit writes the transaction to the store.
						stopWrite = ticker(show, errw, "writing to "+o.where())
					}
					return err
				})
				stop("") // when the transaction failed before Import
				if stopWrite != nil {
					stopWrite("")
				}
				if err != nil {
					return err
				}
				took := time.Since(start)
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), orgs)
				}
				after := t.Snapshot().Stats()
				w := cmd.OutOrStdout()
				for _, org := range orgs {
					root, _ := t.Node(org.RootID)
					fmt.Fprintf(w, "imported org %s (root node %s)  %s\n", org.ID, root.ID, root.Name)
				}
				if parent != "" {
					fmt.Fprintf(w, "imported under %s\n", parent)
				}
				added := after.Nodes - nodesBefore
				fmt.Fprintf(w, "%d org(s), %d nodes in %s%s; the store now holds %d orgs, %d nodes, %d users\n",
					len(orgs), added, took.Round(time.Millisecond), rate(added, took), after.Orgs, after.Nodes, after.Users)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&parent, "parent", "", "import under this department instead of as new orgs")
	cmd.Flags().BoolVar(&keepIDs, "keep-ids", false, "keep the document's ids (they must be free)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
	who = attribute(o, cmd)
	return storeCommand(cmd, annInputArgs, "1")
}

// readAllProgress reads r (of size bytes, 0 when unknown) with a progress
// bar on w when show is set.
func readAllProgress(r io.Reader, size int64, show bool, w io.Writer) ([]byte, error) {
	if !show {
		return io.ReadAll(r)
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err := io.Copy(io.MultiWriter(buf, bar), r)
	_ = bar.Finish()
	return buf.Bytes(), err
}

// ticker shows what is being done and for how long, every 200 ms, until
// the returned stop is called; stop prints how long it took, and note.
// Stopping twice is harmless.
func ticker(show bool, w io.Writer, what string) (stop func(note string)) {
	return tickerWith(show, w, what, nil)
}

// tickerWith is ticker with a status line from status (given the time
// spent so far) after the elapsed time.
func tickerWith(show bool, w io.Writer, what string, status func(elapsed time.Duration) string) (stop func(note string)) {
	if !show {
		return func(string) {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			extra := ""
			if status != nil {
				extra = status(time.Since(start))
			}
			fmt.Fprintf(w, "\r%s … %.1fs%s\x1b[K", what, time.Since(start).Seconds(), extra)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func(note string) {
		once.Do(func() {
			close(done)
			wg.Wait()
			fmt.Fprintf(w, "\r%s: done in %.1fs%s\n", what, time.Since(start).Seconds(), note)
		})
	}
}

// applyStatus says how far applying is: "validating" until the first node
// is applied, then the count, the rate and the time left at that rate.
func applyStatus(applied, total int, elapsed time.Duration) string {
	if applied == 0 || total == 0 {
		return " (validating)"
	}
	perSec := float64(applied) / elapsed.Seconds()
	left := time.Duration(float64(total-applied) / perSec * float64(time.Second))
	return fmt.Sprintf(" (%d%%, %d of %d nodes, %.0f nodes/s, about %s left)", applied*100/total, applied, total, perSec, left.Round(100*time.Millisecond))
}

// rate is ", N nodes/s" for n nodes in d, or nothing.
func rate(n int, d time.Duration) string {
	if n <= 0 || d <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.0f nodes/s)", float64(n)/d.Seconds())
}

// countNodes counts the nodes of nested trees, iteratively.
func countNodes(roots []*orgtree.TreeNode) int {
	n := 0
	stack := append([]*orgtree.TreeNode(nil), roots...)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n++
		stack = append(stack, t.Children...)
	}
	return n
}

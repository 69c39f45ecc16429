package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
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
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import orgs from a nested JSON file (one org object or an array of them)",
		Long: `import reads the nested JSON format of the organization module's
ImportNodeByJSON ({"name", "code", "children": [...]}, one org or an array) and
adds each top-level node as a new org, or under --parent (any department
reference). The whole file is one transaction: on any error nothing is
imported. Use - for standard input. It prints each new org's id and its root
node's id. On files of 1 MB or more it shows its progress on standard error:
reading (bytes, rate), then parsing, validating and applying (elapsed time),
then the rate in nodes per second.`,
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
				var orgs []orgtree.Org
				err := t.Update(func(tx *orgtree.Tx) error {
					opts := orgtree.ImportOptions{KeepIDs: keepIDs}
					if parent != "" {
						p, err := resolveNode(tx.Snapshot, parent)
						if err != nil {
							return err
						}
						opts.ParentID = p.ID
					}
					var err error
					stop := ticker(show, cmd.ErrOrStderr(), fmt.Sprintf("parsing, validating and applying %d MB", len(data)>>20))
					orgs, err = tx.ImportJSON(bytes.NewReader(data), opts)
					stop()
					return err
				})
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
				rate := ""
				if took > 0 && added > 0 {
					rate = fmt.Sprintf(", %.0f nodes/s", float64(added)/took.Seconds())
				}
				fmt.Fprintf(w, "%d org(s), %d nodes in %s%s; the store now holds %d orgs, %d nodes, %d users\n",
					len(orgs), added, took.Round(time.Millisecond), rate, after.Orgs, after.Nodes, after.Users)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&parent, "parent", "", "import under this department instead of as new orgs")
	cmd.Flags().BoolVar(&keepIDs, "keep-ids", false, "keep the document's ids (they must be free)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
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
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err := io.Copy(io.MultiWriter(buf, bar), r)
	_ = bar.Finish()
	return buf.Bytes(), err
}

// ticker shows what is being done and for how long, every 200 ms, until the
// returned stop is called; then it prints how long it took.
func ticker(show bool, w io.Writer, what string) (stop func()) {
	if !show {
		return func() {}
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
			fmt.Fprintf(w, "\r%s … %.1fs", what, time.Since(start).Seconds())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintf(w, "\r%s: done in %.1fs\n", what, time.Since(start).Seconds())
	}
}

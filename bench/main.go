// Command bench runs the same org-tree workload on orgtree and on the
// stores a Go team would otherwise pick — hand-written maps (naive),
// hashicorp/go-memdb, SQLite (adjacency list, recursive CTEs; in memory and
// in a file) and PostgreSQL (adjacency list plus ltree paths) — prints a
// markdown table of the timings and their ratios, checks orgtree against
// the performance targets of bench/README.md, and writes the report and a
// scaling chart.
//
//	go run ./bench -quick           # a minute or two; writes to a temporary directory
//	go run ./bench                  # 100k nodes, 300k users, 1M memberships; writes bench/results
//	go run ./bench -postgres URL    # PostgreSQL on a server of yours instead of a throwaway one
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type config struct {
	nodes, users, memberships int
	seed                      uint64
	scale                     []int
	scaleBaselinesUpTo        int
	out                       string
	backends                  []string
	budget                    time.Duration
	postgresURL               string // empty: start a throwaway server if one can be had
	chainTarget               int
	chainBudget               time.Duration
}

// allBackends is the default -backends list, orgtree first: the ratios
// divide by its column.
const allBackends = "orgtree,naive,memdb,sqlite-mem,sqlite-file,postgres"

// memdbScaleUpTo is the largest curve size go-memdb always runs at: it is
// orgtree's closest peer, so its curve goes as far as a baseline's can.
const memdbScaleUpTo = 100_000

// profiles names the files -cpuprofile and -memprofile write.
type profiles struct{ cpu, mem string }

// parseFlags reads the command line. A -quick run writes to a fresh
// temporary directory unless -out is given, so that it never dirties the
// committed bench/results.
func parseFlags(args []string) (config, profiles, error) {
	var cfg config
	var prof profiles
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "small sizes: 10k nodes, 30k users, 100k memberships, curve to 100k; writes to a temporary directory unless -out is given")
	fs.IntVar(&cfg.nodes, "nodes", 100_000, "nodes in the org")
	fs.IntVar(&cfg.users, "users", 300_000, "users")
	fs.IntVar(&cfg.memberships, "memberships", 1_000_000, "memberships")
	fs.Uint64Var(&cfg.seed, "seed", 1, "generator seed")
	scale := fs.String("scale", "1000,10000,100000,1000000", "org sizes (nodes) of the scaling curve")
	fs.IntVar(&cfg.scaleBaselinesUpTo, "scale-baselines-up-to", 100_000, "largest curve size the baselines run at (they take minutes beyond); go-memdb runs to at least 100000")
	fs.StringVar(&cfg.out, "out", "bench/results", "directory for REPORT.md and scaling.svg; empty: print only")
	backends := fs.String("backends", allBackends, "backends to run, orgtree first")
	fs.DurationVar(&cfg.budget, "budget", 300*time.Millisecond, "time spent measuring each operation on each backend")
	fs.StringVar(&cfg.postgresURL, "postgres", "", "PostgreSQL URL (postgres://user@host:port/db); empty: start a throwaway server when initdb and pg_ctl can be found; off: none")
	fs.IntVar(&cfg.chainTarget, "chain", 1_000_000, "depth of the chain the deep-chain row builds by AddNode")
	fs.DurationVar(&cfg.chainBudget, "chain-budget", 3*time.Second, "time the deep-chain row may take; a shorter chain is extrapolated")
	fs.StringVar(&prof.cpu, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&prof.mem, "memprofile", "", "write a heap profile (allocations of the whole run, live heap at the end) to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, prof, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *quick { // smaller defaults; flags given explicitly still win
		set := func(name, value string) {
			if !given[name] {
				must(fs.Set(name, value))
			}
		}
		set("nodes", "10000")
		set("users", "30000")
		set("memberships", "100000")
		set("scale", "1000,10000,100000")
		set("scale-baselines-up-to", "10000")
		set("budget", "100ms")
		set("chain-budget", "1s")
		if !given["out"] {
			dir, err := os.MkdirTemp("", "orgtree-bench-quick")
			if err != nil {
				return cfg, prof, err
			}
			cfg.out = dir
		}
	}
	for _, s := range strings.Split(*scale, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return cfg, prof, fmt.Errorf("bad -scale %q", *scale)
		}
		cfg.scale = append(cfg.scale, n)
	}
	cfg.backends = strings.Split(*backends, ",")
	if cfg.backends[0] != "orgtree" {
		return cfg, prof, fmt.Errorf("-backends %q: orgtree must come first, the ratios divide by it", *backends)
	}
	return cfg, prof, nil
}

func main() {
	cfg, prof, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	if prof.cpu != "" {
		f, err := os.Create(prof.cpu)
		if err != nil {
			log.Fatal(err)
		}
		must(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); must(f.Close()) }()
	}
	started := time.Now()
	rep, err := run(cfg)
	if err != nil {
		log.Fatal(err)
	}
	rep.elapsed = time.Since(started)
	md := rep.markdown()
	fmt.Print(md)
	if cfg.out != "" {
		if err := rep.write(cfg.out, md); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s/REPORT.md and %s/scaling.svg\n", cfg.out, cfg.out)
	}
	if prof.mem != "" {
		f, err := os.Create(prof.mem)
		if err != nil {
			log.Fatal(err)
		}
		runtime.GC()
		must(pprof.WriteHeapProfile(f))
		must(f.Close())
	}
}

// env is what making a backend needs: a directory for files and the
// PostgreSQL server, when there is one.
type env struct {
	dir         string
	postgresURL string
}

func newBackend(name string, e env) (backend, error) {
	switch name {
	case "orgtree":
		return newOrgtree(), nil
	case "naive":
		return newNaive(), nil
	case "memdb":
		return newMemdb()
	case "sqlite-mem":
		return newSQLite(false, e.dir)
	case "sqlite-file":
		return newSQLite(true, e.dir)
	case "postgres":
		if e.postgresURL == "" {
			return nil, fmt.Errorf("postgres: no server")
		}
		return newPostgres(e.postgresURL)
	}
	return nil, fmt.Errorf("unknown backend %q", name)
}

// workload holds the targets every backend is asked about, drawn once.
type workload struct {
	o                  *synthOrg
	ids, codes, leaves []string
	deep               []string // the deepest nodes
	internal           []string
	users              []string
	bigSubtree, other  string // a child of the root with the largest subtree, another child
	insideBig          string // the deepest node below bigSubtree
	ascii, cjk         []string
	everyNode          string // a query every node's name matches
	parentOf           map[string]string
	depthOfDeep        int
}

func newWorkload(o *synthOrg, seed uint64) *workload {
	r := rand.New(rand.NewPCG(seed, 7))
	w := &workload{o: o, everyNode: "-", parentOf: map[string]string{}}
	depth := make([]int, len(o.nodes))
	size := make([]int, len(o.nodes))
	hasKids := make([]bool, len(o.nodes))
	for i, n := range o.nodes {
		if n.parent >= 0 {
			depth[i] = depth[n.parent] + 1
			hasKids[n.parent] = true
		}
	}
	for i := len(o.nodes) - 1; i > 0; i-- { // parents come first, so sizes add up backwards
		size[i]++
		size[o.nodes[i].parent] += size[i]
	}
	maxDepth := slices.Max(depth)
	w.depthOfDeep = maxDepth
	for range 1000 {
		i := r.IntN(len(o.nodes))
		w.ids = append(w.ids, o.nodes[i].id)
		w.codes = append(w.codes, o.nodes[i].code)
		w.users = append(w.users, o.users[r.IntN(len(o.users))].id)
	}
	for i, n := range o.nodes {
		switch {
		case depth[i] == maxDepth:
			w.deep = append(w.deep, n.id)
		case hasKids[i]:
			w.internal = append(w.internal, n.id)
		}
		if !hasKids[i] {
			w.leaves = append(w.leaves, n.id)
			w.parentOf[n.id] = o.nodes[n.parent].id
		}
		if n.parent == 0 && (w.bigSubtree == "" || size[i] > size[indexOf(o, w.bigSubtree)]) {
			w.bigSubtree = n.id
		}
	}
	for i, n := range o.nodes {
		if n.parent == 0 && n.id != w.bigSubtree {
			w.other = o.nodes[i].id
			break
		}
	}
	bigIdx := indexOf(o, w.bigSubtree)
	for i := range o.nodes {
		for a := i; a > 0; a = int(o.nodes[a].parent) {
			if a == bigIdx && a != i && (w.insideBig == "" || depth[i] > depth[indexOf(o, w.insideBig)]) {
				w.insideBig = o.nodes[i].id
			}
		}
	}
	r.Shuffle(len(w.leaves), func(i, j int) { w.leaves[i], w.leaves[j] = w.leaves[j], w.leaves[i] })
	r.Shuffle(len(w.internal), func(i, j int) { w.internal[i], w.internal[j] = w.internal[j], w.internal[i] })
	for _, word := range nameWords {
		if word[0] < 0x80 {
			w.ascii = append(w.ascii, strings.ToLower(word), strings.ToLower(word)+"-1")
		} else {
			w.cjk = append(w.cjk, word, string([]rune(word)[:1]))
		}
	}
	return w
}

func indexOf(o *synthOrg, id string) int {
	i, _ := strconv.Atoi(id[1:])
	return i
}

// measure runs fn in growing batches until budget has passed and returns
// the time per call.
func measure(budget time.Duration, fn func(i int)) time.Duration {
	var total time.Duration
	calls := 0
	for batch := 1; total < budget; batch *= 2 {
		start := time.Now()
		for i := range batch {
			fn(calls + i)
		}
		total += time.Since(start)
		calls += batch
		if calls >= 1<<22 {
			break
		}
	}
	return total / time.Duration(calls)
}

// measureBest times whole-document operations (export, import, Check),
// which take a large part of the budget each: it runs fn at least minRuns
// times and on until the budget is spent, collecting garbage before each
// run so one run's leftovers are not billed to the next, and returns the
// fastest. On a shared machine the fastest run is the one least disturbed
// by others.
func measureBest(budget time.Duration, minRuns int, fn func()) time.Duration {
	best := time.Duration(math.MaxInt64)
	var total time.Duration
	for runs := 0; runs < minRuns || total < budget; runs++ {
		runtime.GC()
		start := time.Now()
		fn()
		d := time.Since(start)
		total += d
		best = min(best, d)
	}
	return best
}

// op is one row of the table.
type op struct {
	name string
	run  func(b backend, w *workload, i int)
	// perCall divides the measured time: a move and its move back are two.
	perCall int
}

var ops = []op{
	{"lookup by id (whole Node)", func(b backend, w *workload, i int) { b.lookupID(w.ids[i%len(w.ids)]) }, 1},
	{"lookup by code (whole Node)", func(b backend, w *workload, i int) { b.lookupCode(w.codes[i%len(w.codes)]) }, 1},
	{"path of a deepest node", func(b backend, w *workload, i int) { b.path(w.deep[i%len(w.deep)]) }, 1},
	{"children of a node", func(b backend, w *workload, i int) { b.children(w.internal[i%len(w.internal)]) }, 1},
	{"move a leaf with its members (cycle check)", func(b backend, w *workload, i int) {
		leaf, target := w.leaves[i%len(w.leaves)], w.internal[i%len(w.internal)]
		must(b.move(leaf, target))
		must(b.move(leaf, w.parentOf[leaf]))
	}, 2},
	{"move the largest subtree", func(b backend, w *workload, i int) {
		must(b.move(w.bigSubtree, w.other))
		must(b.move(w.bigSubtree, w.o.nodes[0].id))
	}, 2},
	{"refuse a cyclic move", func(b backend, w *workload, i int) {
		if err := b.move(w.bigSubtree, w.insideBig); err != errCycle {
			log.Fatalf("%s: moving %s under its descendant %s gave %v", b.name(), w.bigSubtree, w.insideBig, err)
		}
	}, 1},
	{"subtree member count, root", func(b backend, w *workload, i int) { b.subtreeCount(w.o.nodes[0].id) }, 1},
	{"subtree member count, random node", func(b backend, w *workload, i int) { b.subtreeCount(w.ids[i%len(w.ids)]) }, 1},
	{"first page of 10 members, root", func(b backend, w *workload, i int) { b.firstPage(w.o.nodes[0].id, 10) }, 1},
	{"first page of 10 members, random node", func(b backend, w *workload, i int) { b.firstPage(w.ids[i%len(w.ids)], 10) }, 1},
	{"search ASCII, 3+ runes, all hits", func(b backend, w *workload, i int) { b.search(w.ascii[i%len(w.ascii)]) }, 1},
	{"search CJK, 1–2 runes, all hits", func(b backend, w *workload, i int) { b.search(w.cjk[i%len(w.cjk)]) }, 1},
	{"search Limit 10, ASCII 3+ runes", func(b backend, w *workload, i int) { b.searchTop(w.ascii[i%len(w.ascii)], 10) }, 1},
	{"search Limit 10, CJK 1–2 runes", func(b backend, w *workload, i int) { b.searchTop(w.cjk[i%len(w.cjk)], 10) }, 1},
	{"search Limit 10, a query matching every node", func(b backend, w *workload, i int) { b.searchTop(w.everyNode, 10) }, 1},
	{"add + remove a member", func(b backend, w *workload, i int) {
		node, user := w.ids[i%len(w.ids)], w.users[(i*7)%len(w.users)]
		must(b.addMember(node, user))
		must(b.removeMember(node, user))
	}, 2},
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

type result struct {
	backend string
	notRun  string // why the backend did not run; empty when it did
	perOp   map[string]time.Duration
	load    time.Duration
	// open: open the store file and answer the first query (orgtree's
	// persist store, sqlite-file); 0 where the backend has no file.
	open      time.Duration
	openBytes int64 // the size of that file
	export    time.Duration
	exportN   int // document bytes
	imp       time.Duration
	// writer latency (rename) alone and while a whole-org export runs
	writeP50, writeP99, writeBusyP50, writeBusyP99 time.Duration
}

// orgtreeOnly holds the rows only orgtree has.
type orgtreeOnly struct {
	exportMembers  time.Duration
	exportMembersN int
	check          time.Duration
	chain          chainRun
	// The floor of a write, medians: a transaction that changes nothing,
	// and one that changes one field of one node (its description). Every
	// write costs at least the latter: a new version of the tree.
	emptyUpdate, smallestWrite time.Duration
}

// countingWriter counts what is written to it and keeps none of it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// postgresEnv finds the server the postgres backend runs on: the -postgres
// URL, or else a throwaway server. It returns a stop function, or the
// reason there is no server.
func postgresEnv(cfg config) (url string, stop func(), reason string) {
	switch cfg.postgresURL {
	case "off":
		return "", func() {}, "-postgres off"
	case "":
	default:
		return cfg.postgresURL, func() {}, ""
	}
	srv, err := startPostgres()
	if err != nil {
		return "", func() {}, err.Error()
	}
	fmt.Fprintf(os.Stderr, "postgres: throwaway server at %s\n", srv.url)
	return srv.url, srv.stop, ""
}

func run(cfg config) (*report, error) {
	dir, err := os.MkdirTemp("", "orgtree-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	e := env{dir: dir}
	rep := &report{cfg: cfg, started: time.Now()}
	var pgNotRun string
	if slices.Contains(cfg.backends, "postgres") {
		var stop func()
		e.postgresURL, stop, pgNotRun = postgresEnv(cfg)
		defer stop()
		if pgNotRun != "" {
			fmt.Fprintf(os.Stderr, "postgres: not run: %s\n", pgNotRun)
		}
	}
	fmt.Fprintf(os.Stderr, "generating %d nodes, %d users, %d memberships\n", cfg.nodes, cfg.users, cfg.memberships)
	o := generate(cfg.nodes, cfg.users, cfg.memberships, cfg.seed)
	w := newWorkload(o, cfg.seed)
	rep.depthOfDeep = w.depthOfDeep
	for _, name := range cfg.backends {
		if name == "postgres" && pgNotRun != "" {
			rep.results = append(rep.results, &result{backend: name, notRun: pgNotRun})
			continue
		}
		res, err := runBackend(cfg, e, name, o, w, rep)
		if err != nil {
			return nil, err
		}
		rep.results = append(rep.results, res)
		fmt.Fprintf(os.Stderr, "%s: done\n", name)
	}
	rep.nodeBytes, rep.userBytes, rep.memberBytes = orgtreeMemory(cfg)
	if slices.Contains(cfg.backends, "orgtree") {
		fmt.Fprintf(os.Stderr, "orgtree: building a chain of up to %d nodes by AddNode for at most %v\n", cfg.chainTarget, cfg.chainBudget)
		if rep.only.chain, err = buildChain(cfg.chainTarget, cfg.chainBudget); err != nil {
			return nil, err
		}
	}
	rep.scaling = scaling(cfg, e)
	return rep, nil
}

// runBackend loads the org into one backend and measures every row on it.
func runBackend(cfg config, e env, name string, o *synthOrg, w *workload, rep *report) (*result, error) {
	b, err := newBackend(name, e)
	if err != nil {
		return nil, err
	}
	res := &result{backend: name, perOp: map[string]time.Duration{}}
	start := time.Now()
	if err := b.load(o); err != nil {
		b.close()
		return nil, fmt.Errorf("%s: load: %w", name, err)
	}
	res.load = time.Since(start)
	fmt.Fprintf(os.Stderr, "%s: loaded in %v\n", name, res.load.Round(time.Millisecond))
	if res.open, res.openBytes, err = openAStore(cfg, e, b, o, w); err != nil {
		b.close()
		return nil, fmt.Errorf("%s: open a store: %w", name, err)
	}
	for _, op := range ops {
		d := measure(cfg.budget, func(i int) { op.run(b, w, i) })
		res.perOp[op.name] = d / time.Duration(op.perCall)
	}
	if ob, ok := b.(*orgtreeBackend); ok {
		rep.searchMedian = searchMedian(b, w)
		var cw countingWriter
		rep.only.exportMembers = measureBest(cfg.budget, 2, func() { cw.n = 0; must(ob.exportWithMembers(&cw)) })
		rep.only.exportMembersN = cw.n
		rep.only.check = measureBest(cfg.budget, 1, func() { must(ob.check()) })
		rep.only.emptyUpdate = median(2000, func(int) { must(ob.noop()) })
		rep.only.smallestWrite = median(2000, func(i int) { must(ob.describe(w.leaves[i%len(w.leaves)], strconv.Itoa(i))) })
	}
	var doc bytes.Buffer
	res.export = measureBest(cfg.budget, 3, func() { doc.Reset(); must(b.exportJSON(&doc)) })
	res.exportN = doc.Len()
	res.imp = measureBest(cfg.budget, 3, func() {
		fresh, err := newBackend(name, e)
		must(err)
		must(fresh.importJSON(bytes.NewReader(doc.Bytes())))
		must(fresh.close())
	})
	res.writeP50, res.writeP99 = writeLatency(b, w, false)
	res.writeBusyP50, res.writeBusyP99 = writeLatency(b, w, true)
	return res, b.close()
}

// searchMedian times each search query on its own and returns the median.
func searchMedian(b backend, w *workload) time.Duration {
	var times []time.Duration
	for _, q := range w.ascii {
		times = append(times, measure(20*time.Millisecond, func(int) { b.search(q) }))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// writeLatency measures 500 renames, alone or while another goroutine
// exports the whole org over and over, and returns p50 and p99.
func writeLatency(b backend, w *workload, busy bool) (time.Duration, time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if busy {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					must(b.exportJSON(io.Discard))
				}
			}
		})
		time.Sleep(20 * time.Millisecond) // let the export get going
	}
	var pause time.Duration
	if busy {
		pause = time.Millisecond
	}
	lat := latencies(500, pause, func(i int) { must(b.rename(w.ids[i%len(w.ids)], fmt.Sprintf("renamed-%d", i))) })
	close(stop)
	wg.Wait()
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// latencies times n calls of fn one by one, pausing between calls, and
// returns the times sorted.
func latencies(n int, pause time.Duration, fn func(i int)) []time.Duration {
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		fn(i)
		lat[i] = time.Since(start)
		time.Sleep(pause)
	}
	slices.Sort(lat)
	return lat
}

// median times n calls of fn one by one and returns the median: the cost
// of a call without the collections and folds a few of them pay for.
func median(n int, fn func(i int)) time.Duration { return latencies(n, 0, fn)[n/2] }

// orgtreeMemory reports heap bytes per node, per user and per membership:
// the growth of the heap when an org of nodes only, then with users, then
// with memberships too is loaded, divided by what was added.
func orgtreeMemory(cfg config) (perNode, perUser, perMembership float64) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	cost := func(o *synthOrg) float64 {
		before := heap()
		b := newOrgtree()
		must(b.load(o))
		after := heap()
		runtime.KeepAlive(b)
		return float64(after) - float64(before)
	}
	nodes := cost(generate(cfg.nodes, 0, 0, cfg.seed))
	users := cost(generate(cfg.nodes, cfg.users, 0, cfg.seed))
	all := cost(generate(cfg.nodes, cfg.users, cfg.memberships, cfg.seed))
	return nodes / float64(cfg.nodes), (users - nodes) / float64(max(cfg.users, 1)), (all - users) / float64(max(cfg.memberships, 1))
}

// point is one measurement of the scaling curve.
type point struct {
	backend, op string
	nodes       int
	perOp       time.Duration
}

var scalingOps = []string{"path of a deepest node", "subtree member count, root", "first page of 10 members, root", "search ASCII, 3+ runes, all hits"}

// scaleUpTo is the largest curve size a backend runs at.
func scaleUpTo(cfg config, name string) int {
	switch name {
	case "orgtree":
		return math.MaxInt
	case "memdb":
		return max(cfg.scaleBaselinesUpTo, memdbScaleUpTo)
	}
	return cfg.scaleBaselinesUpTo
}

func scaling(cfg config, e env) []point {
	var pts []point
	for _, n := range cfg.scale {
		members := min(10*n, 2_000_000)
		o := generate(n, 3*n, members, cfg.seed)
		w := newWorkload(o, cfg.seed)
		for _, name := range cfg.backends {
			if n > scaleUpTo(cfg, name) || name == "postgres" && e.postgresURL == "" {
				continue
			}
			b, err := newBackend(name, e)
			must(err)
			must(b.load(o))
			for _, op := range ops {
				if slices.Contains(scalingOps, op.name) {
					pts = append(pts, point{name, op.name, n, measure(cfg.budget/2, func(i int) { op.run(b, w, i) })})
				}
			}
			must(b.close())
			fmt.Fprintf(os.Stderr, "scaling: %s at %d nodes done\n", name, n)
		}
	}
	return pts
}

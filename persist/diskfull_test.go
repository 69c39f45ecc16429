package persist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

const diskFullEnv = "ORGTREE_PERSIST_DISKFULL_STORE"

// TestDiskFull runs a child process whose file size limit (RLIMIT_FSIZE)
// stops the store from growing, a real "no space" write failure. The child
// writes until bbolt fails, checks that the failed write changed nothing in
// memory, then reopens the file and checks that disk and memory agree.
func TestDiskFull(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+tempPath(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	require.Contains(t, string(out), "disk full handled")
	t.Logf("child: %s", out)
}

func diskFullChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	path := os.Getenv(diskFullEnv)
	db, err := Open(path)
	if err != nil {
		fail("open: %v", err)
	}
	w := &workload{r: rand.New(rand.NewPCG(21, 22))}
	for range 100 {
		_ = w.gen(db.Tree().Snapshot().Dump()).apply(db.Tree())
	}
	fi, err := os.Stat(path)
	if err != nil {
		fail("stat: %v", err)
	}
	// Past the limit the kernel answers EFBIG, and SIGXFSZ, which would
	// kill the process, is ignored.
	signal.Ignore(syscall.SIGXFSZ)
	limit := uint64(fi.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fail("setrlimit: %v", err)
	}
	for i := 0; ; i++ {
		if i == 100000 {
			fail("the store never filled the disk")
		}
		before := db.Tree().Snapshot().Dump()
		o := w.gen(before)
		o.Name += fmt.Sprintf(" %060d", i) // long names fill the file sooner
		if len(o.Name) > 60 {
			o.Name = o.Name[len(o.Name)-60:]
		}
		err := o.apply(db.Tree())
		if err == nil || isEngineError(err) {
			continue
		}
		if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "file too large") {
			fail("write failed with %v, want ErrWrite for EFBIG", err)
		}
		if after := db.Tree().Snapshot().Dump(); !reflect.DeepEqual(before, after) {
			fail("the failed write changed memory")
		}
		break
	}
	want := db.Tree().Snapshot().Dump()
	if err := db.Close(); err != nil {
		fail("close: %v", err)
	}
	db, err = Open(path, WithReadOnly())
	if err != nil {
		fail("reopen: %v", err)
	}
	if got := db.Tree().Snapshot().Dump(); !reflect.DeepEqual(want, got) {
		fail("disk and memory differ after the failed write")
	}
	_ = db.Close()
	fmt.Println("disk full handled: memory equals disk")
}

package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binary builds the orgtree command once per test run; tests that need the
// real process (signals, file locks, a second process beside serve) use it.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "orgtree-bin-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "orgtree"), ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, "orgtree")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// served is a serve process and what it printed on start.
type served struct {
	cmd          *exec.Cmd
	url          string
	pool, secret string
	poolFrom     string // the note after the pool id: where it came from
	banner       []string
	rest         chan string // later lines of standard output
}

// startServe starts "bin args..." in dir and waits for its banner.
func startServe(t *testing.T, bin, dir string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ORGTREE_USER_POOL_ID=", "ORGTREE_SECRET=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &served{cmd: cmd, rest: make(chan string, 100)}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		s.banner = append(s.banner, line)
		field := func(prefix string) (string, string, bool) {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
			if !ok {
				return "", "", false
			}
			value, note, _ := strings.Cut(strings.TrimSpace(rest), "  ")
			return value, strings.TrimSpace(note), true
		}
		if v, _, ok := field("orgtree serving "); ok {
			s.url = strings.Fields(v)[0]
		}
		if v, note, ok := field("user pool id:"); ok {
			s.pool, s.poolFrom = v, note
		}
		if v, _, ok := field("secret:"); ok {
			s.secret = v
		}
		if strings.Contains(line, "Go SDK:") {
			break
		}
	}
	require.NotEmpty(t, s.url, "serve printed %q", s.banner)
	go func() {
		for lines.Scan() {
			select {
			case s.rest <- lines.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *served) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean exit on SIGTERM")
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// cli runs the binary in dir and returns standard output and error.
func cli(t *testing.T, bin, dir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func mustCLI(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	out, errOut, err := cli(t, bin, dir, args...)
	require.NoError(t, err, "orgtree %s: %s", strings.Join(args, " "), errOut)
	return out
}

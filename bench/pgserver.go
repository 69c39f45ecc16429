package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgServer is a throwaway PostgreSQL server: a fresh cluster in a
// temporary directory, listening on a loopback port, trusting local
// connections, removed by stop.
type pgServer struct {
	url     string
	dir     string
	pgCtl   string
	runAs   string // the user the server runs as when the bench runs as root
	stopped bool
}

// pgBin finds a PostgreSQL program on PATH, or else in the newest
// /usr/lib/postgresql/<version>/bin, where Debian and Ubuntu put them.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is neither on PATH nor in /usr/lib/postgresql/*/bin (install PostgreSQL: see bench/README.md)", name)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the server then fails to start and
// says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startPostgres makes and starts a throwaway server. PostgreSQL refuses to
// run as root, so as root it runs initdb and pg_ctl as the user "postgres"
// (which Debian's package creates) through runuser, and hands it the
// directory.
func startPostgres() (*pgServer, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return nil, err
	}
	pgCtl, err := pgBin("pg_ctl")
	if err != nil {
		return nil, err
	}
	s := &pgServer{pgCtl: pgCtl}
	var owner *user.User
	if os.Geteuid() == 0 {
		if owner, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: no user %q to run it as (%v)", "postgres", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("running as root and runuser is missing, so the server cannot be started as %q", owner.Username)
		}
		s.runAs = owner.Username
	}
	if s.dir, err = os.MkdirTemp("", "orgtree-bench-pg"); err != nil {
		return nil, err
	}
	if owner != nil {
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			s.stop()
			return nil, err
		}
	}
	data := filepath.Join(s.dir, "data")
	// C.UTF-8 makes pg_trgm see CJK characters as word characters; plain C
	// is the fallback where that locale is missing.
	for _, locale := range []string{"C.UTF-8", "C"} {
		var out []byte
		if out, err = s.command(initdb, "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8", "--locale="+locale, "--no-sync").CombinedOutput(); err == nil {
			break
		}
		err = fmt.Errorf("initdb: %v: %s", err, lastLines(out))
		os.RemoveAll(data)
	}
	if err != nil {
		s.stop()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		s.stop()
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c max_connections=50", port, s.dir)
	if out, err := s.command(pgCtl, "-D", data, "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.stop()
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, lastLines(out), lastLines(log))
	}
	s.url = fmt.Sprintf("postgres://bench@127.0.0.1:%d/postgres?sslmode=disable", port)
	return s, nil
}

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	if s.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", s.runAs, "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// stop shuts the server down and removes its directory.
func (s *pgServer) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		cmd := s.command(s.pgCtl, "-D", data, "-m", "fast", "-w", "-t", "30", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "pg_ctl stop: %v: %s\n", err, lastLines(out))
			time.Sleep(time.Second)
		}
	}
	os.RemoveAll(s.dir)
}

func lastLines(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " / ")
}

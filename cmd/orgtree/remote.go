package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

// How the CLI works beside a running server. bbolt's file lock is exclusive
// while serve holds the store, so no other process can open it, not even
// read-only. serve therefore writes a sidecar file next to the store
// (STORE.serve, mode 0600: as private as the store itself) with its address
// and a token made for this run, and removes it on shutdown. A store command
// that finds a live server there sends its command line, and the contents of
// the files it names as inputs, to POST /orgtree/v1/cli; the server runs the
// same command on its own tree and sends back the output and the files the
// command wrote (export -o), which the CLI writes locally. The command's
// behaviour is the same either way because it is the same code.

// Annotations on store commands say what must travel with a remote run.
const (
	annStore      = "orgtree/store"       // "1": the command works on the store
	annInputArgs  = "orgtree/input-args"  // "1": positional arguments are input files
	annInputFlags = "orgtree/input-flags" // comma-separated flags naming input files
	annOutputFlag = "orgtree/output-flag" // the flag naming an output file
	// "1": the first positional argument names a store file the command
	// writes (backup); the client verifies it and installs it atomically.
	annOutputStore = "orgtree/output-store"
)

// cliPath is the server endpoint that runs CLI commands.
const cliPath = "/orgtree/v1/cli"

// maxCLIRequest bounds a remote command's request (its input files).
const maxCLIRequest = 1 << 30

// sidecar is the content of the STORE.serve file.
type sidecar struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

func sidecarPath(db string) string { return db + ".serve" }

// writeSidecar writes the file atomically, readable by its owner only.
func writeSidecar(db string, s sidecar) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(db), filepath.Base(db)+".serve-*")
	if err != nil {
		return err
	}
	// CreateTemp makes the file with mode 0600.
	_, werr := f.Write(append(data, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), sidecarPath(db))
	}
	if werr != nil {
		_ = os.Remove(f.Name())
	}
	return werr
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems
	return hex.EncodeToString(b)
}

// clientURL is the address a local client dials for a listener on addr:
// an unspecified host (0.0.0.0, ::) is reached on loopback.
func clientURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// cliRequest and cliResponse are the remote command's wire format.
type cliRequest struct {
	Args  []string          `json:"args"`
	Files map[string][]byte `json:"files,omitempty"`
	// Actor is the client's default actor (cliActor), for the writing
	// commands run without --actor.
	Actor string `json:"actor,omitempty"`
}

type cliResponse struct {
	Stdout string            `json:"stdout"`
	Stderr string            `json:"stderr"`
	Files  map[string][]byte `json:"files,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// memFiles stands in for the file system of a command the server runs.
type memFiles struct {
	in  map[string][]byte
	out map[string]*bytes.Buffer
}

// openInput opens a file, or standard input for "-", with its size (0 when
// unknown).
func (o *options) openInput(cmd *cobra.Command, name string) (io.ReadCloser, int64, error) {
	if o.files != nil {
		data, ok := o.files.in[name]
		if !ok {
			return nil, 0, fmt.Errorf("%s: %w (not sent by the client)", name, os.ErrNotExist)
		}
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	if name == "-" {
		return io.NopCloser(cmd.InOrStdin()), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// createOutput creates an output file.
func (o *options) createOutput(name string) (io.WriteCloser, error) {
	if o.files != nil {
		b := &bytes.Buffer{}
		o.files.out[name] = b
		return nopWriteCloser{b}, nil
	}
	return os.Create(name)
}

// tryRemote runs a store command on a server when --server names one or a
// live server holds the store. handled is false when the command is to run
// locally (not a store command, help, no server, a stale sidecar).
func (o *options) tryRemote(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) (handled bool, err error) {
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Annotations[annStore] == "" {
		return false, nil
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return false, nil // the local run reports it
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return false, nil
	}
	url, token := strings.TrimRight(o.server, "/"), o.token
	if url != "" {
		if token == "" {
			token = cmp(os.Getenv("ORGTREE_CLI_TOKEN"), os.Getenv("ORGTREE_SECRET"))
		}
	} else {
		data, err := os.ReadFile(sidecarPath(o.db))
		if err != nil {
			return false, nil
		}
		var s sidecar
		if json.Unmarshal(data, &s) != nil || s.URL == "" || !alive(ctx, s.URL) {
			return false, nil // left by a server that did not stop cleanly
		}
		url, token = s.URL, s.Token
	}
	req := cliRequest{Args: args, Files: map[string][]byte{}, Actor: cliActor()}
	var inputs []string
	if cmd.Annotations[annInputArgs] != "" {
		inputs = append(inputs, cmd.Flags().Args()...)
	}
	for _, name := range strings.Split(cmd.Annotations[annInputFlags], ",") {
		if name == "" {
			continue
		}
		if v, _ := cmd.Flags().GetString(name); v != "" {
			inputs = append(inputs, v)
		}
	}
	for _, name := range inputs {
		var data []byte
		if name == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return true, err
		}
		req.Files[name] = data
	}
	resp, err := postCLI(ctx, url, token, req)
	if err != nil {
		return true, err
	}
	io.WriteString(stdout, resp.Stdout)
	io.WriteString(stderr, resp.Stderr)
	if name := cmd.Annotations[annOutputFlag]; name != "" {
		if path, _ := cmd.Flags().GetString(name); path != "" {
			if data, ok := resp.Files[path]; ok {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					return true, err
				}
			}
		}
	}
	if resp.Error != "" {
		return true, errors.New(resp.Error)
	}
	if cmd.Annotations[annOutputStore] != "" && len(cmd.Flags().Args()) > 0 {
		path := cmd.Flags().Args()[0]
		data, ok := resp.Files[path]
		if !ok {
			return true, fmt.Errorf("orgtree server at %s sent no copy for %s", url, path)
		}
		info, err := persist.Restore(path, bytes.NewReader(data), persist.WithOpenTimeout(o.lockWait))
		if err != nil {
			return true, err
		}
		from := o.db
		if o.server != "" {
			from = url
		}
		return true, o.reportCopy(stdout, "backed up", from, path, info)
	}
	return true, nil
}

func cmp(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// alive tells whether a server answers at url.
func alive(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

func postCLI(ctx context.Context, url, token string, creq cliRequest) (*cliResponse, error) {
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+cliPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("orgtree server at %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("orgtree server at %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	var out cliResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("orgtree server at %s: %w", url, err)
	}
	return &out, nil
}

// cliHandler runs remote CLI commands on tree, kept in store (nil: in
// memory), for a client that presents one of the accepted tokens.
func cliHandler(tree *orgtree.Tree, store *persist.DB, tokens ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if !tokenOK(r, tokens) {
			http.Error(w, "a CLI token or the user pool secret is needed (Authorization: Bearer ...)", http.StatusUnauthorized)
			return
		}
		var req cliRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		actor := req.Actor
		if !usableLabel(actor, orgtree.MaxActorLen) {
			actor = "cli" // a client that did not say; not the server's own user
		}
		o := &options{tree: tree, store: store, files: &memFiles{in: req.Files, out: map[string]*bytes.Buffer{}}, actor: actor}
		root := newRootCommand(o)
		if cmd, _, err := root.Find(req.Args); err != nil || cmd.Annotations[annStore] == "" {
			http.Error(w, fmt.Sprintf("not a store command: %q", req.Args), http.StatusBadRequest)
			return
		}
		var stdout, stderr bytes.Buffer
		root.SetArgs(req.Args)
		root.SetIn(bytes.NewReader(nil))
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SilenceErrors = true
		resp := cliResponse{}
		if err := root.ExecuteContext(r.Context()); err != nil {
			resp.Error = err.Error()
		}
		resp.Stdout, resp.Stderr = stdout.String(), stderr.String()
		if len(o.files.out) > 0 {
			resp.Files = map[string][]byte{}
			for name, b := range o.files.out {
				resp.Files[name] = b.Bytes()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func tokenOK(r *http.Request, tokens []string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	for _, t := range tokens {
		if t != "" && subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			return true
		}
	}
	return false
}

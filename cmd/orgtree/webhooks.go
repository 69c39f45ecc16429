package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
	"github.com/orgtree/orgtree/server"
)

// startWebhooks starts one delivery loop per --webhook URL and returns
// the function that stops them (and waits for them). With a store (db not
// nil) and its history, each receiver's position is kept in the store
// (storePositions), so a restarted serve resumes where the receiver
// stopped acknowledging.
func startWebhooks(ctx context.Context, tree *orgtree.Tree, history server.History, db *persist.DB, so *serveOptions, secret string, out io.Writer, logger *slog.Logger) (func(), error) {
	if len(so.webhooks) == 0 {
		return func() {}, nil
	}
	key := so.webhookSecret
	if key == "" {
		key = secret
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var positions server.WebhookPositions
	if db != nil && history != nil {
		positions = storePositions{db}
	}
	seen := map[string]bool{}
	for _, url := range so.webhooks {
		if seen[url] {
			continue // one delivery loop, and one position, per receiver
		}
		seen[url] = true
		wh, err := server.NewWebhook(tree, server.WebhookConfig{URL: url, Secret: key, History: history, Positions: positions, Logger: logger,
			MinBackoff: so.webhookBackoff[0], MaxBackoff: so.webhookBackoff[1]})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, fmt.Errorf("serve: --webhook %s: %w", url, err)
		}
		fmt.Fprintf(out, "  webhook:      %s\n", url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wh.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("webhook stopped", "url", url, "err", err)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }, nil
}

// storePositions keeps webhook positions in the store's settings, under
// "webhook/position/" and the first 16 bytes of the URL's SHA-256 in hex
// (a URL can be longer than a setting key); the value is the version in
// decimal, a space and the URL, so that a collision reads as no position
// rather than another receiver's.
type storePositions struct{ db *persist.DB }

func positionKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return "webhook/position/" + hex.EncodeToString(sum[:16])
}

// WebhookPosition implements server.WebhookPositions.
func (p storePositions) WebhookPosition(url string) (uint64, bool, error) {
	v, err := p.db.Setting(positionKey(url))
	if errors.Is(err, persist.ErrNoSetting) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	num, stored, _ := strings.Cut(string(v), " ")
	seq, perr := strconv.ParseUint(num, 10, 64)
	if stored != url {
		return 0, false, nil // another URL with the same hash prefix
	}
	if perr != nil {
		return 0, false, fmt.Errorf("webhook position of %s: %w", url, perr)
	}
	return seq, true, nil
}

// SetWebhookPosition implements server.WebhookPositions.
func (p storePositions) SetWebhookPosition(url string, seq uint64) error {
	return p.db.SetSetting(positionKey(url), []byte(strconv.FormatUint(seq, 10)+" "+url))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
)

// startWebhooks starts one delivery loop per --webhook URL and returns
// the function that stops them (and waits for them).
func startWebhooks(ctx context.Context, tree *orgtree.Tree, history server.History, so *serveOptions, secret string, out io.Writer) (func(), error) {
	if len(so.webhooks) == 0 {
		return func() {}, nil
	}
	key := so.webhookSecret
	if key == "" {
		key = secret
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	for _, url := range so.webhooks {
		wh, err := server.NewWebhook(tree, server.WebhookConfig{URL: url, Secret: key, History: history})
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

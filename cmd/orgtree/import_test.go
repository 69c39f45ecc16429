package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestApplyStatus(t *testing.T) {
	assert.Equal(t, " (validating)", applyStatus(0, 100000, 0))
	// 25,000 of 100,000 in 0.5 s: 50,000 nodes/s, 1.5 s to go.
	assert.Equal(t, " (25%, 25000 of 100000 nodes, 50000 nodes/s, about 1.5s left)", applyStatus(25000, 100000, 500*time.Millisecond))
	assert.Equal(t, " (100%, 10 of 10 nodes, 10 nodes/s, about 0s left)", applyStatus(10, 10, time.Second))
}

//go:build !linux

package chaos

import (
	"context"
	"errors"
)

// Run needs Linux (process groups, Pdeathsig, CLOCK_MONOTONIC).
func Run(ctx context.Context, opts Options) (*Report, error) {
	return nil, errors.New("chaos: the chaos suite runs on Linux only")
}

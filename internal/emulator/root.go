package emulator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvRoot names the repository root holding emulators/ (optional: by
// default the harness walks up from the working directory to go.mod).
const EnvRoot = "SHARDWISE_ROOT"

// installHint is the command that installs the emulators' npm packages.
const installHint = "run `npm ci --ignore-scripts --prefix emulators` in the repository root (or `make test`, which does it)"

// EmulatorsDir returns the directory holding the emulators' package.json
// and node_modules: root/emulators if root is set, else
// $SHARDWISE_ROOT/emulators, else the emulators directory next to the
// go.mod found by walking up from the working directory.
func EmulatorsDir(root string) (string, error) {
	if root == "" {
		root = os.Getenv(EnvRoot)
	}
	if root != "" {
		dir, err := filepath.Abs(filepath.Join(root, "emulators"))
		if err != nil {
			return "", err
		}
		if !exists(filepath.Join(dir, "package.json")) {
			return "", fmt.Errorf("emulator: %s has no package.json (root %q)", dir, root)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	// The first go.mod up the tree is the module's root. A nested module
	// (say an example with its own go.mod) has no emulators/ of its own, so
	// keep walking to the next go.mod that does.
	firstMod := ""
	for dir := wd; ; {
		if exists(filepath.Join(dir, "go.mod")) {
			if firstMod == "" {
				firstMod = dir
			}
			if exists(filepath.Join(dir, "emulators", "package.json")) {
				return filepath.Join(dir, "emulators"), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if firstMod == "" {
		return "", fmt.Errorf("emulator: no go.mod above %s; set %s to the repository root", wd, EnvRoot)
	}
	return "", fmt.Errorf("emulator: no emulators/package.json next to %s/go.mod; set %s to the repository root", firstMod, EnvRoot)
}

// checkInstalled reports which of pkgs are missing from dir/node_modules,
// with the command that installs them.
func checkInstalled(dir string, pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		if !exists(filepath.Join(dir, "node_modules", p, "package.json")) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("emulator: npm packages %q not installed in %s/node_modules: %s", missing, dir, installHint)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

//go:build !purego

package md5x

// puregoBuild reports that the package was built with the purego tag, so
// the lane kernel is not compiled in and every message goes through
// crypto/md5.
const puregoBuild = false

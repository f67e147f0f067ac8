//go:build !purego

package b64

// puregoBuild reports that the package was built with the purego tag, so
// no kernel is compiled in and Decode must take the generic path.
const puregoBuild = false

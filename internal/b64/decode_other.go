//go:build !amd64 || purego

package b64

func detect() path { return pathGeneric }

func supported(p path) bool { return p == pathGeneric }

func kernel(p path, dst, src []byte) int { return 0 }

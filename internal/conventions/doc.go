// Package conventions holds no code: its tests check rules of the public
// API across the module's source, so that a change that breaks one fails
// `make test`:
//
//   - no type from an internal package appears in an exported declaration
//     of a public package (a user could neither name nor mock it);
//   - every exported identifier of a public package, exported struct
//     fields included, has a doc comment;
//   - every error text the library creates starts with "shardwise: " (or
//     wraps one that does, "%w: ...").
package conventions

// Package delve offers two dbg.Target backends built on Delve (github.com/go-delve/delve),
// for users who trust Delve's process control and as a second implementation that keeps
// gorigin's own backend honest:
//
//   - Attach (gorigin attach --backend delve) embeds Delve's native Linux backend
//     (pkg/proc/native) to stop a live process and read its memory, and OpenCore
//     (gorigin core --backend delve) its core backend (pkg/proc/core);
//   - Dial (gorigin attach --dlv HOST:PORT) is a client of a running headless
//     "dlv --headless --accept-multiclient --api-version=2" (service/rpc2) that reads memory
//     through the debugger's API and leaves its session as it found it.
//
// Delve is used only to stop, read and let go: runtime knowledge (decoding runtime.g, the
// line table) stays in gstruct and addr2line, as with every backend. Delve is a heavy
// dependency; nothing outside this package imports it.
package delve

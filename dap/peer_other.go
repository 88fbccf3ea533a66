//go:build !linux

package dap

import (
	"errors"
	"net"
)

func unixPeerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("Unix socket credentials are read on Linux only")
}

// MayRead refuses every file for a peer other than root: the check needs Linux.
func (p Peer) MayRead(path string) (string, error) {
	if p.UID == 0 {
		return path, nil
	}
	return "", errors.New("checking a client's permission to read a file is implemented on Linux only")
}

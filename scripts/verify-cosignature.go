// verify-cosignature checks Ed25519 cosignatures (C2SP tlog-cosignature,
// cosignature/v1) on a checkpoint note. It is written from the C2SP texts
// alone (signed-note, tlog-cosignature), with Go's standard library only,
// so that it checks sealwax's cosignatures independently of sealwax.
//
//	go run scripts/verify-cosignature.go 'NAME+KEYID+BASE64(0x04||PUBKEY)' < cosigned-checkpoint
//
// It exits 0 when a signature line of that witness verifies, printing its
// timestamp, and 1 otherwise (or for a malformed input), saying why.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// sigTypeCosignatureV1 is the signature type byte of Ed25519 cosignatures.
const sigTypeCosignatureV1 = 0x04

// witnessKey is a parsed vkey: the name, the key ID and the Ed25519 public key.
type witnessKey struct {
	name string
	id   [4]byte
	pub  ed25519.PublicKey
}

// parseVkey reads `<name>+<hex key ID>+<base64(0x04 || 32-byte key)>` and
// checks the key ID is SHA-256(name || 0x0A || 0x04 || key)[:4].
func parseVkey(vkey string) (witnessKey, error) {
	var k witnessKey
	// The name has no "+" (signed-note), but the base64 may.
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || parts[0] == "" {
		return k, errors.New("the vkey is not name+keyid+base64")
	}
	k.name = parts[0]
	id, err := hex.DecodeString(parts[1])
	if err != nil || len(id) != 4 {
		return k, errors.New("the vkey's key ID is not 8 hex digits")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize {
		return k, errors.New("the vkey's key is not base64 of 33 bytes")
	}
	if raw[0] != sigTypeCosignatureV1 {
		return k, fmt.Errorf("the vkey's signature type is 0x%02x, not 0x04 (cosignature/v1)", raw[0])
	}
	k.pub = ed25519.PublicKey(raw[1:])
	h := sha256.New()
	h.Write([]byte(k.name))
	h.Write([]byte{'\n', sigTypeCosignatureV1})
	h.Write(k.pub)
	want := h.Sum(nil)[:4]
	if !bytes.Equal(id, want) {
		return k, fmt.Errorf("the vkey's key ID %x is not SHA-256(name, 0x0A, 0x04, key)[:4] = %x", id, want)
	}
	copy(k.id[:], id)
	return k, nil
}

// splitNote returns the note text (with its final newline) and the
// signature lines, split at the last blank line.
func splitNote(note string) (string, []string, error) {
	i := strings.LastIndex(note, "\n\n")
	if i < 0 {
		return "", nil, errors.New("the note has no blank line before its signatures")
	}
	text := note[:i+1]
	sigs := note[i+2:]
	if !strings.HasSuffix(sigs, "\n") {
		return "", nil, errors.New("the note does not end in a newline")
	}
	return text, strings.Split(strings.TrimSuffix(sigs, "\n"), "\n"), nil
}

// verify checks the note's signature lines from key; it returns the
// timestamp of the first one that verifies.
func verify(note string, key witnessKey) (uint64, error) {
	text, lines, err := splitNote(note)
	if err != nil {
		return 0, err
	}
	found := false
	for _, line := range lines {
		if !strings.HasPrefix(line, "\u2014 ") {
			return 0, fmt.Errorf("%q is not a signature line", line)
		}
		rest := strings.TrimPrefix(line, "\u2014 ")
		name, b64, ok := strings.Cut(rest, " ")
		if !ok || name != key.name {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) < 4 || !bytes.Equal(sig[:4], key.id[:]) {
			continue
		}
		found = true
		if len(sig) != 4+8+ed25519.SignatureSize {
			return 0, fmt.Errorf("the cosignature is %d bytes, not 4+8+64", len(sig))
		}
		ts := binary.BigEndian.Uint64(sig[4:12])
		if ts == 0 || ts > 1<<63-1 {
			return 0, fmt.Errorf("the timestamp %d is zero or above 2^63-1", ts)
		}
		msg := "cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n" + text
		if ed25519.Verify(key.pub, []byte(msg), sig[12:]) {
			return ts, nil
		}
	}
	if !found {
		return 0, fmt.Errorf("no signature line of %s with key ID %x", key.name, key.id)
	}
	return 0, errors.New("the cosignature does not verify")
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verify-cosignature VKEY < cosigned-checkpoint")
		os.Exit(2)
	}
	key, err := parseVkey(os.Args[1])
	if err == nil {
		var note []byte
		note, err = io.ReadAll(os.Stdin)
		if err == nil {
			var ts uint64
			if ts, err = verify(string(note), key); err == nil {
				fmt.Printf("ok: %s cosigned at %d\n", key.name, ts)
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, "verify-cosignature:", err)
	os.Exit(1)
}

// Command go-interop checks sealwax's formats with Go's reference code,
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog.
//
// It reads one JSON request on stdin and writes one JSON answer on stdout;
// the Rust test proto/tests/go_interop.rs drives it and checks the answer.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	// Notes signed by sealwax, and the vkey that should open them.
	Vkey  string   `json:"vkey"`
	Notes []string `json:"notes"`
	// A text for Go to sign with a fresh key named SignName.
	SignName string `json:"sign_name"`
	SignText string `json:"sign_text"`
	// Proofs made by Rust, to check with Go.
	Records []record `json:"records"`
	Trees   []tree   `json:"trees"`
	// Hash tiles written by Rust (C2SP paths, without the height), for a tree.
	TileSize int64             `json:"tile_size"`
	TileRoot tlog.Hash         `json:"tile_root"`
	Tiles    map[string][]byte `json:"tiles"`
	// Nodes to read through the tiles: [level, index] pairs.
	Want [][2]int64 `json:"want"`
}

type record struct {
	Index int64       `json:"index"`
	Size  int64       `json:"size"`
	Root  tlog.Hash   `json:"root"`
	Leaf  tlog.Hash   `json:"leaf"`
	Proof []tlog.Hash `json:"proof"`
}

type tree struct {
	OldSize int64       `json:"old_size"`
	OldRoot tlog.Hash   `json:"old_root"`
	Size    int64       `json:"size"`
	Root    tlog.Hash   `json:"root"`
	Proof   []tlog.Hash `json:"proof"`
}

type opened struct {
	Text  string `json:"text"`
	Error string `json:"error"`
}

type response struct {
	// For each note: its verified text, or Go's error.
	Opened []opened `json:"opened"`
	GoVkey string   `json:"go_vkey"`
	GoNote string   `json:"go_note"`
	// For each record and tree proof: "" if Go accepts it, else Go's error.
	RecordErrors []string `json:"record_errors"`
	TreeErrors   []string `json:"tree_errors"`
	// Go's own proofs, computed from the tiles alone.
	RecordProofs [][]tlog.Hash `json:"record_proofs"`
	TreeProofs   [][]tlog.Hash `json:"tree_proofs"`
	TileTreeHash tlog.Hash     `json:"tile_tree_hash"`
	TileHashes   []tlog.Hash   `json:"tile_hashes"`
	TilesRead    []string      `json:"tiles_read"`
}

// mapTiles serves tiles from the request, mapping Go's paths (which name the
// tile height, tile/8/...) to C2SP's (which do not).
type mapTiles struct {
	files map[string][]byte
	read  []string
}

func (m *mapTiles) Height() int { return 8 }

func (m *mapTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		goPath := t.Path()
		path := "tile/" + strings.TrimPrefix(goPath, "tile/8/")
		data, ok := m.files[path]
		if !ok {
			return nil, fmt.Errorf("tile %s (Go path %s) is missing", path, goPath)
		}
		m.read = append(m.read, path)
		out[i] = data
	}
	return out, nil
}

func (m *mapTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func run() error {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	var resp response

	v, err := note.NewVerifier(req.Vkey)
	if err != nil {
		return fmt.Errorf("note.NewVerifier(%q): %w", req.Vkey, err)
	}
	for _, msg := range req.Notes {
		if n, err := note.Open([]byte(msg), note.VerifierList(v)); err != nil {
			resp.Opened = append(resp.Opened, opened{Error: err.Error()})
		} else {
			resp.Opened = append(resp.Opened, opened{Text: n.Text})
		}
	}

	skey, vkey, err := note.GenerateKey(rand.Reader, req.SignName)
	if err != nil {
		return err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	signed, err := note.Sign(&note.Note{Text: req.SignText}, s)
	if err != nil {
		return err
	}
	resp.GoVkey, resp.GoNote = vkey, string(signed)

	for _, r := range req.Records {
		resp.RecordErrors = append(resp.RecordErrors, errString(tlog.CheckRecord(r.Proof, r.Size, r.Root, r.Index, r.Leaf)))
	}
	for _, t := range req.Trees {
		resp.TreeErrors = append(resp.TreeErrors, errString(tlog.CheckTree(t.Proof, t.Size, t.Root, t.OldSize, t.OldRoot)))
	}

	tiles := &mapTiles{files: req.Tiles}
	hr := tlog.TileHashReader(tlog.Tree{N: req.TileSize, Hash: req.TileRoot}, tiles)
	if resp.TileTreeHash, err = tlog.TreeHash(req.TileSize, hr); err != nil {
		return fmt.Errorf("tree hash from tiles: %w", err)
	}
	var idx []int64
	for _, w := range req.Want {
		idx = append(idx, tlog.StoredHashIndex(int(w[0]), w[1]))
	}
	if resp.TileHashes, err = hr.ReadHashes(idx); err != nil {
		return fmt.Errorf("reading hashes from tiles: %w", err)
	}
	for _, r := range req.Records {
		if r.Size != req.TileSize {
			continue
		}
		p, err := tlog.ProveRecord(r.Size, r.Index, hr)
		if err != nil {
			return fmt.Errorf("proving record %d from tiles: %w", r.Index, err)
		}
		resp.RecordProofs = append(resp.RecordProofs, p)
	}
	for _, t := range req.Trees {
		if t.Size != req.TileSize {
			continue
		}
		p, err := tlog.ProveTree(t.Size, t.OldSize, hr)
		if err != nil {
			return fmt.Errorf("proving tree %d from tiles: %w", t.OldSize, err)
		}
		resp.TreeProofs = append(resp.TreeProofs, p)
	}
	resp.TilesRead = tiles.read

	return json.NewEncoder(os.Stdout).Encode(resp)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-interop:", err)
		os.Exit(1)
	}
}

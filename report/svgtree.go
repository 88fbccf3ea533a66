package report

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Sizes of the spawn tree's SVG, in pixels.
const (
	svgCharWidth  = 6.6 // of the 11px monospace font
	svgLineHeight = 14
	svgPad        = 8
	svgColumnGap  = 90
	svgRowGap     = 16
	svgMargin     = 12
)

type svgBox struct {
	x, y, w, h float64
	lines      []string
}

// spawnTreeSVG lays the tree out left to right in layers (a node one step right of its
// nearest root) and draws it as an inline SVG element: dot is not needed to read an
// HTML report. Group nodes carry data-group, their index among the groups.
func spawnTreeSVG(t *spawnTree, total int) template.HTML {
	n := len(t.nodes)
	if n == 0 {
		return ""
	}
	parents := make([][]int, n)
	children := make([][]int, n)
	for _, e := range t.edges {
		if e.from != e.to {
			parents[e.to] = append(parents[e.to], e.from)
			children[e.from] = append(children[e.from], e.to)
		}
	}
	// Layers: breadth first from the nodes without parents; nodes only on cycles start
	// layer 0 too.
	layer := make([]int, n)
	for i := range layer {
		layer[i] = -1
	}
	var queue []int
	for i := range n {
		if len(parents[i]) == 0 {
			layer[i] = 0
			queue = append(queue, i)
		}
	}
	for next := 0; ; {
		for ; next < len(queue); next++ {
			u := queue[next]
			for _, v := range children[u] {
				if layer[v] < 0 {
					layer[v] = layer[u] + 1
					queue = append(queue, v)
				}
			}
		}
		i := slices.Index(layer, -1)
		if i < 0 {
			break
		}
		layer[i] = 0
		queue = append(queue, i)
	}
	nLayers := slices.Max(layer) + 1
	byLayer := make([][]int, nLayers)
	for _, u := range queue { // breadth-first order keeps siblings together
		byLayer[layer[u]] = append(byLayer[layer[u]], u)
	}

	boxes := make([]svgBox, n)
	x := float64(svgMargin)
	height := 0.0
	pos := make([]float64, n) // rank within the layer, for ordering the next layer
	for l, us := range byLayer {
		if l > 0 { // order by the mean rank of the parents: fewer crossings
			key := func(u int) float64 {
				s := 0.0
				for _, p := range parents[u] {
					s += pos[p]
				}
				return s / float64(max(len(parents[u]), 1))
			}
			slices.SortStableFunc(us, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
		}
		colW := 0.0
		for _, u := range us {
			boxes[u].lines = t.nodes[u].lines()
			for _, line := range boxes[u].lines {
				colW = max(colW, float64(utf8.RuneCountInString(line))*svgCharWidth+2*svgPad)
			}
		}
		y := float64(svgMargin)
		for r, u := range us {
			pos[u] = float64(r)
			h := float64(len(boxes[u].lines))*svgLineHeight + 2*svgPad - 4
			boxes[u].x, boxes[u].y, boxes[u].w, boxes[u].h = x, y, colW, h
			y += h + svgRowGap
		}
		height = max(height, y)
		x += colW + svgColumnGap
	}
	width := x - svgColumnGap + svgMargin

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" id="spawn-tree" class="spawn-tree" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="spawn tree">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#666"/></marker></defs>`)
	for _, e := range t.edges {
		a, c := boxes[e.from], boxes[e.to]
		w := 1 + 4*math.Log1p(float64(e.count))/math.Log1p(float64(max(total, 1)))
		var d string
		var lx, ly float64
		if e.from == e.to { // a goroutine of the group started another of it
			x0, y0 := a.x+a.w, a.y+a.h/2
			d = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x0, y0-6, x0+40, y0-30, x0+40, y0+30, x0, y0+6)
			lx, ly = x0+34, y0
		} else {
			x0, y0 := a.x+a.w, a.y+a.h/2
			x1, y1 := c.x, c.y+c.h/2
			mid := (x0 + x1) / 2
			d = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x0, y0, mid, y0, mid, y1, x1, y1)
			lx, ly = x1-44, y1-4 // beside the arrowhead: one label per child row
		}
		fmt.Fprintf(&b, `<g class="edge" data-from="%d" data-to="%d"><path d="%s" fill="none" stroke="#777" stroke-width="%.2f" marker-end="url(#arrow)"/><text x="%.1f" y="%.1f" class="edge-label">%s</text></g>`,
			e.from, e.to, d, w, lx, ly, thousands(int64(e.count)))
	}
	for i, bx := range boxes {
		node := &t.nodes[i]
		attrs, fill, dash := "", heatColour(node.count, max(total, 1)), ""
		title := node.pseudo
		if node.group != nil {
			attrs = fmt.Sprintf(` data-group="%d" tabindex="0"`, i)
			title = node.group.Key
		} else {
			fill, dash = "#f4f4f4", ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<g class="node" id="tree-n%d"%s><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="6" fill="%s" stroke="#555"%s/>`,
			i, attrs, template.HTMLEscapeString(title), bx.x, bx.y, bx.w, bx.h, fill, dash)
		for j, line := range bx.lines {
			cls := ""
			if j == 0 {
				cls = ` class="count"`
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f"%s>%s</text>`, bx.x+svgPad, bx.y+svgPad+float64(j+1)*svgLineHeight-4, cls, template.HTMLEscapeString(line))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

package apiclient

// PageDecoder lets the external benchmark (which needs simapi, itself an
// importer of apiclient) run the page decoder.
type PageDecoder struct {
	d *decoder
	p page
}

func NewPageDecoder() *PageDecoder { return &PageDecoder{d: newDecoder()} }

// NewPageDecoderWithoutShapes is NewPageDecoder reading every order member
// by member (shape.go), for comparisons.
func NewPageDecoderWithoutShapes() *PageDecoder {
	d := newDecoder()
	d.noShapes = true
	return &PageDecoder{d: d}
}

// Orders are the orders of the page decoded last.
func (x *PageDecoder) Orders() []Order { return x.p.orders }

// ShapeHits is the number of orders read by a learnt shape.
func (x *PageDecoder) ShapeHits() int { return x.d.shapeHits }

// Decode decodes body and returns its number of orders.
func (x *PageDecoder) Decode(body []byte) (int, error) {
	err := x.d.decodePage(body, &x.p)
	return len(x.p.orders), err
}

// IndexStops builds the stop index of body (jsonindex.go), as a decode
// does first.
func (x *PageDecoder) IndexStops(body []byte) { x.d.scanner.reset(body) }

// WalkStops builds the index and goes from stop to stop through body, as
// the scanner does but doing nothing at each: the floor of the scanner's
// cost. It returns the number of stops.
func (x *PageDecoder) WalkStops(body []byte) int {
	s := &x.d.scanner
	s.reset(body)
	n := 0
	for i := s.nextStop(0); i < len(body); i = s.nextStop(i + 1) {
		n++
	}
	return n
}

// InclusiveEndLearnt reports whether the client has learnt that the API
// includes EndTime.
func (c *Client) InclusiveEndLearnt() bool { return c.inclusiveEnd.Load() }

package apiclient

// PageDecoder lets the external benchmark (which needs simapi, itself an
// importer of apiclient) run the page decoder.
type PageDecoder struct {
	d *decoder
	p page
}

func NewPageDecoder() *PageDecoder { return &PageDecoder{d: newDecoder()} }

// Decode decodes body and returns its number of orders.
func (x *PageDecoder) Decode(body []byte) (int, error) {
	err := x.d.decodePage(body, &x.p)
	return len(x.p.orders), err
}

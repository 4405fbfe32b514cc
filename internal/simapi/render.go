package simapi

import "strconv"

// renderer writes orders as JSON with appends only: no reflection, no
// per-field allocation, so a benchmark sweep measures the client.
type renderer struct {
	d                *dataset
	numbersAsStrings bool
}

func (r *renderer) int(b []byte, v int64) []byte {
	if r.numbersAsStrings {
		b = append(b, '"')
		b = strconv.AppendInt(b, v, 10)
		return append(b, '"')
	}
	return strconv.AppendInt(b, v, 10)
}

// order appends one order object. endless >= 0 gives it a fresh OrderNo.
func (r *renderer) order(b []byte, o *order, endless int64) []byte {
	b = append(b, `{"Region":`...)
	b = append(b, o.region.code.j...)
	b = append(b, `,"OrderNo":`...)
	b = append(b, '"')
	b = r.d.appendOrderNo(b, o.v, endless)
	b = append(b, '"')
	b = append(b, `,"SourceOrderNo":`...)
	b = append(b, '"', 'S', 'O')
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hexDigits[o.src>>uint(s)&0xf])
	}
	b = append(b, '"')
	b = append(b, `,"CompanyID":`...)
	b = r.int(b, o.key.org.companyID)
	b = append(b, `,"OrganizationID":`...)
	b = r.int(b, o.key.org.orgID)
	b = append(b, `,"OrganizationName":`...)
	b = append(b, o.key.org.name.j...)
	b = append(b, `,"UserEmail":`...)
	b = append(b, o.key.org.email.j...)
	b = append(b, `,"ChargeType":`...)
	b = r.int(b, 2)
	b = append(b, `,"ChargeTypeDisplay":`...)
	b = append(b, chargeTypeDisplay.j...)
	b = append(b, `,"Channel":`...)
	b = r.int(b, o.channel)
	b = append(b, `,"Currency":`...)
	b = append(b, o.cur.code.j...)
	b = append(b, `,"CurrencyDisplay":`...)
	b = append(b, o.cur.display.j...)
	b = append(b, `,"ResourceID":`...)
	b = append(b, o.key.id.j...)
	b = append(b, `,"ResourceType":`...)
	b = r.int(b, int64(o.product.resType))
	b = append(b, `,"ResourceTypeDisplay":`...)
	b = append(b, o.product.resTypeDisplay.j...)
	b = append(b, `,"ModelID":`...)
	b = append(b, o.model.id.j...)
	b = append(b, `,"ModelName":`...)
	b = append(b, o.model.name.j...)
	b = append(b, `,"OrderType":`...)
	b = r.int(b, int64(o.orderType))
	b = append(b, `,"OrderTypeDisplay":`...)
	b = append(b, orderTypeDisplay[o.orderType].j...)
	b = append(b, `,"PricingSKU":`...)
	b = append(b, o.sku.name.j...)
	b = append(b, `,"Quantity":`...)
	b = r.int(b, o.quantity)
	b = append(b, `,"QuantityDisplay":`...)
	b = append(b, '"')
	b = strconv.AppendInt(b, o.quantity, 10)
	b = append(b, ' ')
	b = append(b, unitDisplayJSON[o.model.unit].s...)
	b = append(b, '"')
	b = append(b, `,"PricingUnit":`...)
	b = r.int(b, int64(o.model.unit))
	b = append(b, `,"PricingUnitDisplay":`...)
	b = append(b, unitDisplayJSON[o.model.unit].j...)
	b = append(b, `,"ListPrice":`...)
	b = appendPrice(b, o.list8)
	b = append(b, `,"DiscountPrice":`...)
	b = appendPrice(b, o.disc8)
	b = append(b, `,"OrderTotalPrice":`...)
	if o.invalid >= 0 {
		b = append(b, invalidAmounts[o.invalid].j...)
	} else {
		b = append(b, '"')
		b = appendFixed8(b, o.total8, o.totalScale)
		b = append(b, '"')
	}
	b = append(b, `,"OriginalPrice":`...)
	b = appendPrice(b, o.quantity*o.list8)
	b = append(b, `,"Status":`...)
	b = r.int(b, 1)
	b = append(b, `,"StatusDisplay":`...)
	b = append(b, statusDisplay.j...)
	// CreateTime is a string in the reference, whatever NumbersAsStrings says.
	b = append(b, `,"CreateTime":`...)
	b = append(b, '"')
	b = strconv.AppendInt(b, o.createTime, 10)
	b = append(b, '"')
	b = append(b, `,"StartTime":`...)
	b = r.int(b, o.createTime-o.usage)
	b = append(b, `,"EndTime":`...)
	b = r.int(b, o.createTime)
	b = append(b, `,"PaidTime":`...)
	b = r.int(b, 0)
	b = append(b, `,"RevocationTime":`...)
	b = append(b, `"0"`...)
	b = append(b, `,"RegionDisplay":`...)
	b = append(b, o.region.display.j...)
	b = append(b, `,"ProductCode":`...)
	b = append(b, o.product.code.j...)
	b = append(b, `,"ProductCodeDisplay":`...)
	b = append(b, o.product.display.j...)
	return append(b, '}')
}

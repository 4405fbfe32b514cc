package apitest

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

func (r *renderer) field(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// order appends one order object. endless >= 0 gives it a fresh OrderNo.
func (r *renderer) order(b []byte, o *order, endless int64) []byte {
	b = append(b, `{"Region":`...)
	b = append(b, o.region.code.j...)
	b = r.field(b, "OrderNo")
	b = append(b, '"')
	b = r.d.appendOrderNo(b, o.v, endless)
	b = append(b, '"')
	b = r.field(b, "SourceOrderNo")
	b = append(b, '"', 'S', 'O')
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hexDigits[o.src>>uint(s)&0xf])
	}
	b = append(b, '"')
	b = r.field(b, "CompanyID")
	b = r.int(b, o.key.org.companyID)
	b = r.field(b, "OrganizationID")
	b = r.int(b, o.key.org.orgID)
	b = r.field(b, "OrganizationName")
	b = append(b, o.key.org.name.j...)
	b = r.field(b, "UserEmail")
	b = append(b, o.key.org.email.j...)
	b = r.field(b, "ChargeType")
	b = r.int(b, 2)
	b = r.field(b, "ChargeTypeDisplay")
	b = append(b, chargeTypeDisplay.j...)
	b = r.field(b, "Channel")
	b = r.int(b, o.channel)
	b = r.field(b, "Currency")
	b = append(b, o.cur.code.j...)
	b = r.field(b, "CurrencyDisplay")
	b = append(b, o.cur.display.j...)
	b = r.field(b, "ResourceID")
	b = append(b, o.key.id.j...)
	b = r.field(b, "ResourceType")
	b = r.int(b, int64(o.product.resType))
	b = r.field(b, "ResourceTypeDisplay")
	b = append(b, o.product.resTypeDisplay.j...)
	b = r.field(b, "ModelID")
	b = append(b, o.model.id.j...)
	b = r.field(b, "ModelName")
	b = append(b, o.model.name.j...)
	b = r.field(b, "OrderType")
	b = r.int(b, int64(o.orderType))
	b = r.field(b, "OrderTypeDisplay")
	b = append(b, orderTypeDisplay[o.orderType].j...)
	b = r.field(b, "PricingSKU")
	b = append(b, o.sku.name.j...)
	b = r.field(b, "Quantity")
	b = r.int(b, o.quantity)
	b = r.field(b, "QuantityDisplay")
	b = append(b, '"')
	b = strconv.AppendInt(b, o.quantity, 10)
	b = append(b, ' ')
	b = append(b, unitDisplayJSON[o.model.unit].s...)
	b = append(b, '"')
	b = r.field(b, "PricingUnit")
	b = r.int(b, int64(o.model.unit))
	b = r.field(b, "PricingUnitDisplay")
	b = append(b, unitDisplayJSON[o.model.unit].j...)
	b = r.field(b, "ListPrice")
	b = appendPrice(b, o.list8)
	b = r.field(b, "DiscountPrice")
	b = appendPrice(b, o.disc8)
	b = r.field(b, "OrderTotalPrice")
	if o.invalid >= 0 {
		b = append(b, invalidAmounts[o.invalid].j...)
	} else {
		b = append(b, '"')
		b = appendFixed8(b, o.total8, o.totalScale)
		b = append(b, '"')
	}
	b = r.field(b, "OriginalPrice")
	b = appendPrice(b, o.quantity*o.list8)
	b = r.field(b, "Status")
	b = r.int(b, 1)
	b = r.field(b, "StatusDisplay")
	b = append(b, statusDisplay.j...)
	// CreateTime is a string in the reference, whatever NumbersAsStrings says.
	b = r.field(b, "CreateTime")
	b = append(b, '"')
	b = strconv.AppendInt(b, o.createTime, 10)
	b = append(b, '"')
	b = r.field(b, "StartTime")
	b = r.int(b, o.createTime-o.usage)
	b = r.field(b, "EndTime")
	b = r.int(b, o.createTime)
	b = r.field(b, "PaidTime")
	b = r.int(b, 0)
	b = r.field(b, "RevocationTime")
	b = append(b, `"0"`...)
	b = r.field(b, "RegionDisplay")
	b = append(b, o.region.display.j...)
	b = r.field(b, "ProductCode")
	b = append(b, o.product.code.j...)
	b = r.field(b, "ProductCodeDisplay")
	b = append(b, o.product.display.j...)
	return append(b, '}')
}

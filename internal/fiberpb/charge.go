package fiberpb

import (
	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// Fiber's chargeInfo.method values.
const (
	methodChargedNow             = "charged-now"
	methodChargingLater          = "charging-later"
	methodChargedForAsyncProcess = "charged-for-async-process"
	methodFree                   = "free"
	methodCreditsRefunded        = "credits-refunded"
)

// ChargeInfoFromFiber maps Fiber's chargeInfo union onto the contract's oneof. A method this
// version does not know leaves the oneof unset; fiber_method keeps Fiber's string either way.
func ChargeInfoFromFiber(c fiber.ChargeInfo) *cdv1.ChargeInfo {
	out := &cdv1.ChargeInfo{FiberMethod: c.Method}
	alert := lowCreditAlert(c.LowCreditAlert)
	switch c.Method {
	case methodChargedNow:
		out.Method = &cdv1.ChargeInfo_ChargedNow{ChargedNow: &cdv1.ChargedNow{
			CreditsCharged: deref(c.CreditsCharged), LowCreditAlert: alert,
		}}
	case methodChargingLater:
		out.Method = &cdv1.ChargeInfo_ChargingLater{ChargingLater: &cdv1.ChargingLater{
			Message: deref(c.Message), LowCreditAlert: alert,
		}}
	case methodChargedForAsyncProcess:
		out.Method = &cdv1.ChargeInfo_ChargedForAsyncProcess{ChargedForAsyncProcess: &cdv1.ChargedForAsyncProcess{
			CreditsCharged: deref(c.CreditsCharged), Message: deref(c.Message), LowCreditAlert: alert,
		}}
	case methodFree:
		out.Method = &cdv1.ChargeInfo_Free{Free: &cdv1.Free{
			Message: deref(c.Message), LowCreditAlert: alert,
		}}
	case methodCreditsRefunded:
		out.Method = &cdv1.ChargeInfo_CreditsRefunded{CreditsRefunded: &cdv1.CreditsRefunded{
			CreditsRefunded: deref(c.CreditsRefunded), Message: deref(c.Message), LowCreditAlert: alert,
		}}
	}
	return out
}

func lowCreditAlert(a *fiber.CreditAlert) *cdv1.LowCreditAlert {
	if a == nil {
		return nil
	}
	return &cdv1.LowCreditAlert{
		GetMoreCreditsUrl: a.GetMoreCreditsURL,
		Message:           a.Message,
		AvailableCredits:  a.AvailableCredits,
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

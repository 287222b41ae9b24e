"""Two-level referral commission (分销): settings, share codes and binding, commission records written in the
payment's transaction, settlement after the freeze, reversal by refunds, withdrawals. docs/distribution.md."""

"""Distribution's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class DistributionCode(ErrorCode):
    # 422: level1_bp + level2_bp above 10000 (100 %)
    RATES_TOO_HIGH = "RATES_TOO_HIGH"
    # 404: no such share scene (or flyer scene)
    SCENE_NOT_FOUND = "SCENE_NOT_FOUND"
    # 409: distribution is switched off by head office
    DISTRIBUTION_DISABLED = "DISTRIBUTION_DISABLED"
    # 409: the member is not an (approved) distributor
    NOT_DISTRIBUTOR = "NOT_DISTRIBUTOR"
    # 404: no such distributor profile
    DISTRIBUTOR_NOT_FOUND = "DISTRIBUTOR_NOT_FOUND"
    # 409: the available commission does not cover the withdrawal (or is not above zero)
    INSUFFICIENT_COMMISSION = "INSUFFICIENT_COMMISSION"
    # 422: a withdrawal below the minimum set by head office
    WITHDRAWAL_TOO_SMALL = "WITHDRAWAL_TOO_SMALL"
    # 422: a withdrawal to WeChat change that would pay out 2,000 yuan or more in one transfer
    WITHDRAWAL_TOO_LARGE = "WITHDRAWAL_TOO_LARGE"
    # 404: no such withdrawal
    WITHDRAWAL_NOT_FOUND = "WITHDRAWAL_NOT_FOUND"
    # 409: the withdrawal is no longer waiting for review
    WITHDRAWAL_NOT_PENDING = "WITHDRAWAL_NOT_PENDING"
    # 404: no such promoter
    PROMOTER_NOT_FOUND = "PROMOTER_NOT_FOUND"

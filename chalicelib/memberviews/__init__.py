"""The member pages, composed: members' profile with distribution's referrer and status and campaigns' tags."""

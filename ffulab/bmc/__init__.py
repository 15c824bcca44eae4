"""Virtual BMCs: one vbmc daemon per lab, instackenv.json, IPMI power from the undercloud."""

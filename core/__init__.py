"""The ground floor: all configuration (`settings`) and the error family (`errors`).

Every other layer may import it; it imports none of them.
"""

"""Selections read from the standard's code lists (spec/schemas/codes), never retyped here."""

from ibr_protocol.codes import all_codes, label_for


def code_selection(list_name):
    return [(code, label_for(list_name, code)) for code in all_codes(list_name)]

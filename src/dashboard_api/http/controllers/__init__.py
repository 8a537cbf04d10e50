"""Thin controllers: parse, call one service method, return a struct."""

"""Thin wrappers that expose inrcodec.core to storage libraries."""

"""``generate``: AWS profiles made from what rolehop knows, written where AWS tools read them."""

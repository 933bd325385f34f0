"""The drawing engine a page serves many visitors with: a `Crowd` gathers the requests that arrive
together into cohorts drawn in shared batches (`crowd`, its measured `costs`, the `ticket` a
requester holds), and `process.Engine` runs a crowd in a process of its own (`remote` is its side
of the pipe; `record` holds what a drawing's hooks write into shared tensors). The samplers it
draws with are `pixelcnn.sampling`'s."""

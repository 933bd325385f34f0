"""Pictures in and out: `reading` turns an upload, a drawing or a photo into what a model reads;
`writing` turns drawn values into grids and tiles to look at and save."""

"""napari adapters: reader, writer, sample data, layer building and model binding."""

"""Video data: annotations, decoding, clip sampling, datasets and augmentation."""

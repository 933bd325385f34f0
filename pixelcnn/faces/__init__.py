"""The face encoder (facenet-pytorch's MTCNN and InceptionResnetV1) that turns a portrait into the
512-d identity vector a portrait model is conditioned on, and its weights."""

from pixelcnn.faces.encoder import FaceEncoder, crop_to_image, embed_orl, leave_one_out_accuracy, load_photo, with_embeddings
from pixelcnn.faces.mixing import check_embedding, interpolate, slerp
from pixelcnn.faces.weights import EMBEDDING, fetch_weights

__all__ = ["EMBEDDING", "FaceEncoder", "check_embedding", "crop_to_image", "embed_orl", "fetch_weights", "interpolate",
           "leave_one_out_accuracy", "load_photo", "slerp", "with_embeddings"]

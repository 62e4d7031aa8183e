"""The history buffer of generated images (Shrivastava et al., 2017), as CycleGAN uses it.

The discriminator sees, half of the time, a fake from an earlier step instead of the
newest one, which damps oscillation. The buffer, its fill count and its random generator
are variables, so the pool lives in checkpoints and works inside ``tf.function``.
"""

import tensorflow as tf


class ImagePool(tf.Module):
    """A pool of up to ``size`` past images of shape ``image_shape``.

    ``query(images)``, per image in order: while the pool is not full, store it and return
    it; afterwards, with probability 0.5 return a random stored image and store the new one
    in its place, else return the new image. ``size=0`` disables the pool.
    """

    def __init__(self, size, image_shape, seed=0, name=None):
        super().__init__(name=name)
        self.size = int(size)
        self.images = tf.Variable(tf.zeros([max(self.size, 1), *image_shape], tf.float32), trainable=False, name="images")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")
        self.rng = tf.random.Generator.from_seed(seed)

    def query(self, images):
        if self.size == 0:
            return images
        images = tf.cast(images, tf.float32)
        outputs = tf.TensorArray(tf.float32, size=tf.shape(images)[0], element_shape=images.shape[1:])
        for i in tf.range(tf.shape(images)[0]):
            image = images[i]
            coin = self.rng.uniform([], 0.0, 1.0)
            slot = self.rng.uniform([], 0, self.size, dtype=tf.int32)
            if self.count < self.size:
                self.images[self.count].assign(image)
                self.count.assign_add(1)
                outputs = outputs.write(i, image)
            elif coin > 0.5:
                outputs = outputs.write(i, self.images[slot])
                self.images[slot].assign(image)
            else:
                outputs = outputs.write(i, image)
        return outputs.stack()

"""DQN for Gymnasium envs with Box observations and Discrete actions (`rllab dqn ...`).

The algorithm is `agents.dqn.dqn` (imports TensorFlow); its hyperparameters are
`agents.dqn.config.DQNConfig` (does not).
"""
